"""Text normalization shared by the lexicon, the classifier and the extractors."""

from __future__ import annotations

import re
import unicodedata

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_MIXED = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9@$])[\w@$]+\b")
_SPACES = re.compile(r"[ \t\u00a0\u202f\u2009]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
# Fast path for the accented letters of Spanish; anything else falls back to NFKD.
_FAST = str.maketrans("áéíóúüñàèìòùâêîôûäëïöçÁÉÍÓÚÜÑÀÈÌÒÙÂÊÎÔÛÄËÏÖÇ",
                      "aeiouunaeiouaeiouaeiocAEIOUUNAEIOUAEIOUAEIOC")
_OTHER_MARKS = re.compile(r"[\u00c0-\u024f\u0300-\u036f\u1e00-\u1eff]")


def fold(text: str) -> str:
    """Lower-case, strip accents and zero-width marks, squeeze spaces; keep emoji (ñ→n)."""
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", text).translate(_FAST)
        if _OTHER_MARKS.search(text):
            norm = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in norm if not unicodedata.combining(c))
    return _SPACES.sub(" ", text.lower()).strip()


def deleet(folded: str) -> str:
    """Undo leetspeak inside words that mix letters and digits (``f3nt4n1l0`` → ``fentanilo``)."""
    return _MIXED.sub(lambda m: m.group(0).translate(_LEET), folded)


_REPEATS = re.compile(r"([a-z])\1+")


def squeeze_repeats(word: str) -> str:
    """Collapse repeated letters (``fentannyllo`` → ``fentanylo``) for fuzzy matching."""
    return _REPEATS.sub(r"\1", word)
