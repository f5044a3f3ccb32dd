"""The lexicon layer: curated terms by category, matched on folded and de-leeted text."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from centinela.online.text import deleet, fold, squeeze_repeats

CATEGORIES = (
    "fentanyl", "other_opioid", "form", "sale", "payment", "code_emoji", "other_drug", "news",
    "harm_reduction", "medical", "legit_pharmacy", "job", "request",
)


@dataclass
class LexiconHits:
    """Lexicon matches of one text: category → matched terms (as written in the lexicon)."""

    by_category: dict[str, list[str]] = field(default_factory=dict)
    substances: list[str] = field(default_factory=list)

    def count(self, category: str) -> int:
        return len(self.by_category.get(category, ()))

    @property
    def opioid(self) -> bool:
        return bool(self.count("fentanyl") or self.count("other_opioid"))

    def keyword_offer(self) -> bool:
        """Keyword-only baseline: an opioid term together with a sale or payment term."""
        return self.opioid and bool(self.count("sale") or self.count("payment"))

    def as_dict(self) -> dict:
        return {"terms": self.by_category, "substances": self.substances}


def _pattern(term: str) -> tuple[str, bool]:
    """Return (regex, needs word boundaries) of a lexicon term."""
    if term.startswith("re:"):
        return term[3:], False
    body = r"[\s\-_.]*".join(re.escape(part) for part in fold(term).split(" "))
    return body, re.match(r"\w", term[0]) is not None  # emoji and symbols: no boundary


@dataclass(frozen=True)
class Lexicon:
    """Compiled lexicon: one alternation per category, plus the term → substance map."""

    data: dict
    sha256: str
    compiled: dict[str, re.Pattern[str]]
    substances: dict[tuple[str, str], str]
    combined: re.Pattern[str]

    def match(self, text: str) -> LexiconHits:
        """Return the lexicon hits of ``text`` (raw text; folding happens here)."""
        return self.match_folded(fold(text))

    def match_folded(self, folded: str) -> LexiconHits:
        """Return the lexicon hits of already folded text (see ``text.fold``)."""
        d = deleet(folded)
        variants = (folded,) if folded == d else (folded, d)
        hits = LexiconHits()
        subs: list[str] = []
        found = hits.by_category
        for v in variants:
            for m in self.combined.finditer(v):
                cat = m.lastgroup or ""
                term = m.group(0).strip()
                terms = found.setdefault(cat, [])
                if term in terms:
                    continue
                terms.append(term)
                if cat in ("fentanyl", "other_opioid"):
                    default = "fentanyl" if cat == "fentanyl" else "opioid"
                    s = self.substances.get((cat, _squeeze(term)), default)
                    if s not in subs:
                        subs.append(s)
        for v in variants:
            for tok in _WORD.findall(v):
                fuzzy = _fuzzy_drug(tok)
                if fuzzy is None:
                    continue
                cat, anchor, sub = fuzzy
                terms = found.setdefault(cat, [])
                if anchor not in terms and tok not in terms:
                    terms.append(tok)
                    if sub not in subs:
                        subs.append(sub)
        hits.substances = subs
        return hits


_WORD = re.compile(r"[a-z]{5,14}")
# Misspelling tolerance for drug names the regexes missed (edit-distance-like ratio).
FUZZY_ANCHORS = {
    "fentanilo": ("fentanyl", "fentanyl"), "fentanyl": ("fentanyl", "fentanyl"),
    "fentanil": ("fentanyl", "fentanyl"), "fentanylo": ("fentanyl", "fentanyl"),
    "fentas": ("fentanyl", "fentanyl"), "fentita": ("fentanyl", "fentanyl"),
    "carfentanil": ("fentanyl", "fentanyl"), "durogesic": ("fentanyl", "fentanyl"),
    "tramadol": ("other_opioid", "tramadol"), "oxicodona": ("other_opioid", "oxycodone"),
    "oxycodone": ("other_opioid", "oxycodone"), "morfina": ("other_opioid", "morphine"),
    "metadona": ("other_opioid", "methadone"), "petidina": ("other_opioid", "pethidine"),
    "meperidina": ("other_opioid", "pethidine"), "hidromorfona": ("other_opioid", "hydromorphone"),
    "percocet": ("other_opioid", "oxycodone"), "oxycontin": ("other_opioid", "oxycodone"),
    "heroina": ("other_opioid", "heroin"), "codeina": ("other_opioid", "codeine"),
    "remifentanilo": ("other_opioid", "remifentanil"), "dilaudid": ("other_opioid", "hydromorphone"),
    "morphine": ("other_opioid", "morphine"), "heroin": ("other_opioid", "heroin"),
    "methadone": ("other_opioid", "methadone"), "codeine": ("other_opioid", "codeine"),
    "roxies": ("other_opioid", "oxycodone"), "apache": ("fentanyl", "fentanyl"),
    "apaches": ("fentanyl", "fentanyl"),
}
_NOT_DRUGS = frozenset({"fenomeno", "fenomenal", "metadata", "morfologia", "pentagono", "fenton",
                        "ferretera", "fantastico", "tramite", "tramites", "tramado"})


_ANCHOR_INDEX: dict[str, list[tuple[str, str, str, str]]] = {}
for _a, (_c, _s) in FUZZY_ANCHORS.items():
    _ANCHOR_INDEX.setdefault(_a[:1], []).append((_a, squeeze_repeats(_a), _c, _s))


@lru_cache(maxsize=65536)
def _fuzzy_drug(token: str) -> tuple[str, str, str] | None:
    """Return (category, anchor, substance) when ``token`` looks like a misspelled drug name."""
    if token in _NOT_DRUGS or token in FUZZY_ANCHORS:
        return None
    squeezed = squeeze_repeats(token)
    for anchor, sq_anchor, cat, sub in _ANCHOR_INDEX.get(token[:1], ()):
        if abs(len(anchor) - len(token)) > 3:
            continue
        if squeezed == sq_anchor:
            return cat, anchor, sub
        sm = difflib.SequenceMatcher(None, squeezed, anchor)
        if sm.real_quick_ratio() >= 0.8 and sm.quick_ratio() >= 0.8 and sm.ratio() >= 0.8:
            return cat, anchor, sub
    return None


def _squeeze(term: str) -> str:
    return re.sub(r"[\s\-_.]+", " ", term).strip()


def _terms(cat: dict) -> list[tuple[str, str | None]]:
    out = []
    for item in cat["terms"]:
        if isinstance(item, str):
            out.append((item, cat.get("substance")))
        else:
            out.append((item["term"], item.get("substance", cat.get("substance"))))
    return out


def _compile(data: dict) -> dict[str, re.Pattern[str]]:
    out = {}
    for name, cat in data["categories"].items():
        words, others = [], []
        for term, _ in _terms(cat):
            pat, bounded = _pattern(term)
            (words if bounded else others).append(pat)
        parts = []
        if words:
            alt = "|".join(sorted(words, key=len, reverse=True))
            parts.append(rf"(?<!\w)(?:{alt})(?!\w)")
        if others:
            parts.append("|".join(f"(?:{p})" for p in sorted(others, key=len, reverse=True)))
        out[name] = re.compile("|".join(parts))
    return out


def _combine(data: dict) -> re.Pattern[str]:
    """One regex with a named group per category: one pass over the text."""
    return re.compile("|".join(f"(?P<{name}>{rx.pattern})" for name, rx in _compile(data).items()))


def _substance_map(data: dict) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for name, cat in data["categories"].items():
        for term, sub in _terms(cat):
            if sub and not term.startswith("re:"):
                out[(name, _squeeze(fold(term)))] = sub
    return out


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Load the shipped lexicon (``online/data/lexicon.json``)."""
    raw = (resources.files("centinela.online") / "data" / "lexicon.json").read_bytes()
    data = json.loads(raw)
    unknown = set(data["categories"]) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"lexicon.json: unknown categories {sorted(unknown)}")
    return Lexicon(data=data, sha256=hashlib.sha256(raw).hexdigest(), compiled=_compile(data),
                   substances=_substance_map(data), combined=_combine(data))
