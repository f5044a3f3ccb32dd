"""One text folding for Centinela (online classifier, public assistant, place and substance
names), plus the online classifier's normalization helpers. Pure: no database."""

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


def fold_keep_enye(text: str) -> str:
    """``fold`` that keeps ñ (``año`` is not ``ano``) and folds every whitespace, line breaks
    included (the public assistant's and triage's reading of a message)."""
    text = text.lower().replace("ñ", "\x00")
    norm = unicodedata.normalize("NFKD", text)
    out = "".join(c for c in norm if not unicodedata.combining(c)).replace("\x00", "ñ")
    return " ".join(out.split())


def deleet(folded: str) -> str:
    """Undo leetspeak inside words that mix letters and digits (``f3nt4n1l0`` → ``fentanilo``)."""
    return _MIXED.sub(lambda m: m.group(0).translate(_LEET), folded)


_REPEATS = re.compile(r"([a-z])\1+")


def squeeze_repeats(word: str) -> str:
    """Collapse repeated letters (``fentannyllo`` → ``fentanylo``) for fuzzy matching."""
    return _REPEATS.sub(r"\1", word)


# Separators and decoration that carry no meaning for the decision: bars, bullets, arrows, stars,
# box drawing, runs of ~ * = _; a slash between two words ("fentanyl/heroin", "alguien / vende",
# not "c/u" or "S/ 50").
_SEPARATORS = re.compile(r"[|¦‖│┃•·◦‣∙►▶▸▹➤➔→←⇒★☆✦✧✪✩❖◆◇■□▪▫●○◉◎~*=_\\«»<>\[\]{}]+"
                         r"|(?<=[^\W\d_]{2})/(?=[^\W\d_]{2})|(?<=[^\W\d_]{2})\+(?=[^\W\d_]{2})"
                         r"|(?:(?<=\s)|^)/+(?=\s|$)")
# Emoji and other symbols are kept, as their own tokens after the words ("🔥fentanyl🔥").
_SYMBOLS = re.compile(r"([\u2190-\u2bff\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]+)")
# Sentence punctuation glued to a word ("Heroin!!", "vendo.", "¿fentanilo?").
_PUNCT = re.compile(r"[!¡?¿\"“”‘’`´;()]+|(?<=[^\W\d_])[.,:]+(?=\s|$)|(?<=\s)[.,:]+(?=[^\W\d_])")

# A count glued to a name ("5xOxycodon", "10xTramadol"): set apart.
_GLUED_COUNT = re.compile(r"(?<![\w])(\d+\s?[xX])(?=[^\W\d_]{3})")


def normalize(text: str) -> str:
    """The classifier's view before folding: separators, punctuation and line breaks as spaces.

    Verdicts must not change with ``|`` vs ``/`` vs ``•`` vs a new line, with emoji glued to
    words, or with trailing punctuation (property-tested); numbers, prices (``S/ 50``, ``$20``),
    ``c/u``, ``#4`` and leetspeak are left as they are.
    """
    text = _SEPARATORS.sub(" ", text)
    emoji = ""
    if not text.isascii():
        # emoji are kept as tokens but moved after the words, so "alguien 🔥 vende" reads as
        # "alguien vende 🔥": phrases stay whole wherever the decoration was put
        found = _SYMBOLS.findall(text)
        if found:
            text = _SYMBOLS.sub(" ", text)
            emoji = " " + " ".join(found)
    text = _PUNCT.sub(" ", text)
    text = _GLUED_COUNT.sub(r"\1 ", text) + emoji
    return " ".join(text.split())


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Restricted Damerau–Levenshtein distance of ``a`` and ``b`` (a swap of two neighbours
    counts one); any value above ``limit`` comes back as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)
