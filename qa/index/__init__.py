"""Where chunks are stored and searched: the IndexReader/IndexWriter protocols and their engines.

``base`` declares what every engine speaks (chunk ids and scores, never positions), ``factory``
picks the engine of a location, ``build`` turns a corpus into an index through any writer, and
``local`` is the default engine (generations of SQLite, FAISS, bm25s and sentence terms).
"""
