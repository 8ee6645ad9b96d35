"""What a quote spans: a sentence, joined by its neighbour when one refers to the other.

"By far the most famous work of Norman art is the Bayeux Tapestry ... It was commissioned by
Odo, the Bishop of Bayeux": the second sentence is the first one's statement going on, and
"It was commissioned by Odo" alone cannot be checked without it. A quoted sentence that opens
with a word pointing back (a pronoun, "This", "Such", "Instead") is quoted after the previous
one, and the lead also with the next one when that opens so (``TrainedReader._spans``). Both
must be adjacent in the article and inside the quoted sentence's passage, so the quote stays
one exact span of it.
"""

from __future__ import annotations

import re

# Words that open a sentence continuing the one before it: pronouns and determiners pointing
# back, and "Instead" (the previous sentence says what did not happen). Case-sensitive: the
# sentence's first word.
_BACK_REFERENCE = re.compile(
    r"(?:It|Its|This|These|That|Those|They|Their|Them|Such|He|She|His|Her|Instead)\b"
)


def refers_back(sentence: str) -> bool:
    """The sentence opens with a word pointing back to the one before it ("It was ...")."""
    return _BACK_REFERENCE.match(sentence.lstrip(" \"'“‘(")) is not None
