"""From a question to ranked passages: read it, gather candidates, fuse, rerank, diversify."""
