"""Yes/no leads that agree with the question.

An entry that answers a yes/no question ("¿Es legal vender fentanilo sin receta?") does not
open its stored text with "No." — the same answer is retrieved for "¿es delito …?", where a bare
"No." says the opposite of the text that follows. The entry declares its claim instead
(``yes_no`` in the KB file: the axis, the answer to the axis's positive question, the acts it
is about) and the lead is chosen per question: "Sí." to "¿es delito …?", "No." to "¿es legal …?",
and no lead at all when the question's polarity cannot be read (no legality word, both words,
a negated question, a wh-question, another act).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.lib.text import fold_keep_enye as fold

# Each axis: the words of its positive question ("is it legal?") and of its negative one
# ("is it a crime?"). Consequences (cárcel, preso, jail) are left out on purpose: "¿me meten
# preso?" is not answered with a bare "Sí".
AXES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "legal": (
        re.compile(r"\b(legal|legales|legalmente|licito|licita|permitid[oa]s?|autorizad[oa]s?|"
                   r"allowed|lawful|legally|permitted)\b"),
        re.compile(r"\b(delitos?|ilegal|ilegales|ilegalmente|ilicito|ilicita|prohibid[oa]s?|"
                   r"penad[oa]s?|sancionad[oa]s?|crimes?|criminal|illegal|illegally|unlawful|"
                   r"forbidden|prohibited|against the law|punishable)\b"),
    ),
}
LEADS = {
    True: {"es": "Sí.", "en": "Yes.", "qu": "Arí."},
    False: {"es": "No.", "en": "No.", "qu": "Manam."},
}
# A bare yes/no at the start of a stored answer: the loader refuses it (see ``kb._entry``).
BARE_LEAD = re.compile(r"^\W*(s[ií]|no|yes|ar[ií]|manam|manan)\s*[.,;:!—–-]", re.IGNORECASE)

_CLAUSES = re.compile(r"[¿?¡!.;:,\n]+")
# A clause that starts with a question word asks for something other than yes or no
# ("¿por qué es ilegal …?", "¿qué delito es …?"); "que" inside a clause is a conjunction.
_WH_START = re.compile(r"^\s*(y |and )?(que|q|por que|porque|xq|como|cuando|donde|cual|cuales|"
                       r"quien|quienes|cuant[oa]s?|what|why|how|when|where|which|who|whom)\b")
_NEGATED = re.compile(r"\b(no (es|son|esta|estan|seria|serian|sera|seran|era|fue)|"
                      r"isn'?t|aren'?t|wasn'?t|(is|are|was) (it |that |this |selling )?not|"
                      r"not (legal|illegal|allowed|a crime))\b")


@dataclass(frozen=True)
class YesNo:
    """What an entry answers to its axis's positive question, and which acts that covers."""

    axis: str
    positive: bool  # the answer to "is it legal?" (for axis "legal")
    acts: tuple[str, ...]  # word prefixes: the question must name one of them
    unless: tuple[str, ...] = ()  # phrases that take the question out of the claim

    @classmethod
    def parse(cls, raw: dict[str, object], where: str) -> YesNo:
        """Read the ``yes_no`` object of a KB entry (ValueError naming what is wrong)."""
        axis = raw.get("axis")
        if axis not in AXES:
            raise ValueError(f"{where}: yes_no.axis must be one of {', '.join(AXES)}")
        if raw.get("answer") not in ("yes", "no"):
            raise ValueError(f"{where}: yes_no.answer must be 'yes' or 'no'")
        acts = tuple(fold(str(a)) for a in _strings(raw.get("acts")))
        if not acts:
            raise ValueError(f"{where}: yes_no.acts must name the acts the claim is about")
        return cls(axis=str(axis), positive=raw["answer"] == "yes", acts=acts,
                   unless=tuple(fold(str(u)) for u in _strings(raw.get("unless"))))


def _strings(value: object) -> list[str]:
    """Return the items of a JSON list as strings (nothing for anything else)."""
    return [str(v) for v in value] if isinstance(value, list) else []


def question_polarity(question: str, axis: str) -> bool | None:
    """True when ``question`` asks the axis's positive question ("¿es legal …?"), False for the
    negative one ("¿es delito …?"), None when it cannot be told."""
    positive, negative = AXES[axis]
    found: set[bool] = set()
    for clause in _CLAUSES.split(fold(question)):
        pos, neg = bool(positive.search(clause)), bool(negative.search(clause))
        if not (pos or neg):
            continue
        if _WH_START.match(clause) or _NEGATED.search(clause) or (pos and neg):
            return None
        found.add(pos)
    return found.pop() if len(found) == 1 else None


def lead(claim: YesNo | None, question: str, lang: str) -> str | None:
    """The yes/no that opens the answer to ``question`` in ``lang``, or None."""
    if claim is None:
        return None
    folded = fold(question)
    tokens = re.findall(r"\w+", folded)
    if not any(t.startswith(claim.acts) for t in tokens):
        return None
    if any(u in folded for u in claim.unless):
        return None
    asked = question_polarity(question, claim.axis)
    if asked is None:
        return None
    says_yes = claim.positive if asked else not claim.positive
    return LEADS[says_yes].get(lang, LEADS[says_yes]["es"])
