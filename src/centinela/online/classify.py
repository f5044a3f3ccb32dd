"""Classify posts: language, calibrated P(offer), lexicon hits, substances and explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from centinela.online.classifier import THRESHOLD, decide_batch
from centinela.online.decide import CONTEXTS, DEFAULT_CONTEXT
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
    context: str = "social"
    kind: str = "none"  # offer, request (chat context) or none
    decided_by: str = "model"  # lexicon (a rule) or model
    rule: str = ""
    model_probability: float = 0.0

    def as_dict(self) -> dict:
        return {"probability": self.probability, "is_offer": self.is_offer, "kind": self.kind,
                "context": self.context, "decided_by": self.decided_by, "rule": self.rule,
                "model_probability": self.model_probability,
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
             language: bool = True, context: str | list[str] = DEFAULT_CONTEXT) -> list[Classification]:
    """Classify a batch in its source context; ``explain`` adds what decided and why.

    ``context`` is one of ``market``, ``chat``, ``social``, ``ad`` (or one per text; see
    ``online.decide``). ``language=False`` identifies the language of offers only (ingestion:
    negatives are dropped).
    """
    contexts = [context] * len(texts) if isinstance(context, str) else list(context)
    bad = sorted({c for c in contexts if c not in CONTEXTS})
    if bad:
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)}; got {', '.join(bad)}")
    model = get_model().model
    decisions, proba, hits = decide_batch(model, texts, contexts, threshold)
    out = []
    for text, d, p, h, ctx in zip(texts, decisions, proba, hits, contexts, strict=True):
        lang, conf = identify_language(text) if (language or d.is_offer) else ("", 0.0)
        c = Classification(
            probability=round(float(d.probability), 4), is_offer=d.is_offer, language=lang,
            language_confidence=conf, substances=list(h.substances or d.substances), lexicon=h.by_category,
            keyword_offer=h.keyword_offer(), context=ctx, kind=d.kind, decided_by=d.decided_by,
            rule=d.rule, model_probability=round(float(p), 4),
        )
        if explain:
            c.explanation = {"decided_by": d.decided_by, "rule": d.rule, "context": ctx,
                             **model.explain(text)}
        out.append(c)
    return out
