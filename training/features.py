"""The reader's features: the product's own code, imported (qa/answer/analysis.py, features.py).

The training scripts keep calling ``features.X``; nothing here is a copy, so the weights are
trained on exactly what the product computes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's `qa`

from qa.answer.analysis import (  # noqa: F401
    _WORD,
    KINDS,
    OPPOSITE,
    STOP,
    QuestionText,
    SentenceText,
    Stem,
    analyse_question,
    analyse_sentence,
    answer_kind,
    default_stem,
    with_idf,
)
from qa.answer.features import (  # noqa: F401
    FEATURES,
    Candidate,
    candidate_features,
    rule_mask,
    word_pieces,
)

_OPPOSITE = OPPOSITE
