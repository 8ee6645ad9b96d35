"""Text utilities every stage shares: tokens, dates, sentences and cleaning."""
