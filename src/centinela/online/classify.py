"""Classify posts: language, calibrated P(offer), lexicon hits, substances and explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

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


def identify_language(text: str) -> tuple[str, float]:
    """Return ("es" | "en" | "mix", confidence) with langid restricted to Spanish and English."""
    lang, conf = _identifier().classify(text)
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
