"""Sentence embeddings from verified local weights: the Encoder protocol, its backends, a cache."""
