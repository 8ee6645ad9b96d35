"""The reader at inference: the product's scorer (qa/answer/scorer.py), imported, not copied.

reader = Reader.load(path)                        # qa/answer/weights/reader-v1.json
q = reader.question(text, idf)                    # once per question (idf: stem -> float)
best, logit, logits = reader.read(q, q_pooled, q_tokens, q_offsets, candidates)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's `qa`

from qa.answer.scorer import (  # noqa: F401
    NO_ANSWER,
    QUESTION_FEATURES,
    WEIGHTS_DIR,
    Logistic,
    question_row,
    read,
)
from qa.answer.scorer import SentenceScorer as Reader  # noqa: F401
