"""Classify posts: language, calibrated P(offer), lexicon hits, substances and explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from centinela.online.classifier import THRESHOLD
from centinela.online.model_store import get_model


@dataclass
class Classification:
    """The verdict on one text (no text kept here: callers decide what to store)."""

    probability: float
    is_offer: bool
    language: str  # es, en or mix
    language_confidence: float
    substances: list[str]
    lexicon: dict
    keyword_offer: bool
    explanation: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"probability": self.probability, "is_offer": self.is_offer,
                "language": self.language, "language_confidence": self.language_confidence,
                "substances": self.substances, "lexicon": self.lexicon,
                "keyword_offer": self.keyword_offer, "explanation": self.explanation}


@lru_cache(maxsize=1)
def _identifier():
    from langid.langid import LanguageIdentifier, model

    ident = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    ident.set_languages(["es", "en"])
    return ident


class _FastLangid:
    """langid's ``classify`` with the byte-n-gram features folded into its automaton's states.

    langid walks a byte automaton, counts the states it enters, expands each state into
    feature counts and takes their dot product with the per-class weights. The product is
    linear, so each state's weight vector is summed once here; classifying is then the walk
    plus one sum — the same scores (up to float rounding) several times faster.
    """

    def __init__(self, ident):
        self.ident = ident
        self.nextmove = list(ident.tk_nextmove)
        ptc = np.asarray(ident.nb_ptc, dtype=np.float64)
        table = np.zeros((len(self.nextmove) >> 8, ptc.shape[1]))
        for state, indices in ident.tk_output.items():
            table[state] = ptc[list(indices)].sum(axis=0)
        self.table = table

    def classify(self, text: str) -> tuple[str, float]:
        nextmove, state, states = self.nextmove, 0, []
        for byte in text.encode("utf8"):
            state = nextmove[(state << 8) + byte]
            states.append(state)
        probs = self.ident.norm_probs(self.table[states].sum(axis=0) + self.ident.nb_pc)
        best = int(np.argmax(probs))
        return str(self.ident.nb_classes[best]), float(probs[best])


@lru_cache(maxsize=1)
def _fast_identifier():
    ident = _identifier()
    try:
        return _FastLangid(ident)
    except (AttributeError, TypeError, IndexError, ValueError):  # another langid layout
        return ident


def identify_language(text: str) -> tuple[str, float]:
    """Return ("es" | "en" | "mix", confidence) with langid restricted to Spanish and English."""
    lang, conf = _fast_identifier().classify(text)
    conf = float(conf)
    return (lang if conf >= 0.9 else "mix"), round(conf, 3)


def classify(texts: list[str], explain: bool = False, threshold: float = THRESHOLD,
             language: bool = True) -> list[Classification]:
    """Classify a batch; ``explain`` adds the terms and features behind each verdict.

    ``language=False`` identifies the language of offers only (ingestion: negatives are dropped).
    """
    model = get_model().model
    proba, hits = model.predict_proba(texts)
    out = []
    for text, p, h in zip(texts, proba, hits, strict=True):
        lang, conf = identify_language(text) if (language or p >= threshold) else ("", 0.0)
        c = Classification(
            probability=round(float(p), 4), is_offer=bool(p >= threshold), language=lang,
            language_confidence=conf, substances=list(h.substances), lexicon=h.by_category,
            keyword_offer=h.keyword_offer(),
        )
        if explain:
            c.explanation = model.explain(text)
        out.append(c)
    return out
