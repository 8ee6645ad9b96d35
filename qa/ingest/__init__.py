"""From files to articles and chunks: reading a corpus, its metadata, and cutting chunks."""
