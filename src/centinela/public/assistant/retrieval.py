"""Hybrid retrieval over the KB: BM25 over stemmed words (typos mapped to the nearest indexed
term) fused with character n-gram TF-IDF cosine, plus an absolute confidence for fallback."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from centinela.lib.text import fold_keep_enye as fold
from centinela.public.assistant.intents import intents
from centinela.public.assistant.kb import Entry, entries
from centinela.public.text import (
    CANON,
    STOPWORDS,
    CharTfidf,
    content_text,
    edit_distance,
    stem,
    terms,
    words,
)

# What matters most must win whatever the word overlap: a question about the signs of an
# overdose gets the overdose-signs entry, never withdrawal (which shares "síntomas", "opioides").
PRIORITY_RULES: tuple[tuple[re.Pattern, re.Pattern | None, str], ...] = (
    (re.compile(r"(?=.*\b(sobredosis|sobre dosis|overdos\w*|od|intoxicacion|intoxicad[oa])\b)"
                r"(?=.*\b(sintomas?|signos?|senales?|señales?|symptoms?|signs?|reconocer|"
                r"reconozco|identific\w*|como se ve|looks? like|como saber|how (do|can) i tell|"
                r"recogni[sz]e|spot)\b)"),
     re.compile(r"\b(abstinencia|withdrawal|dejar de|quitting|detox|desintoxic\w*)\b"),
     "overdose_signs"),
)

K1, B = 1.2, 0.75
HEAD_BOOST = 3  # BM25F: a term in the title/keywords/questions counts as three in the body
INTENT_BOOST = 0.07
W_BM25, W_CHAR, W_QUESTION = 0.45, 0.25, 0.30


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    bm25: float
    char: float
    question: float


class Index:
    """BM25 + char n-gram index of a list of entries."""

    def __init__(self, items: tuple[Entry, ...]):
        self.items = items
        self.docs = []
        for e in items:
            # Quechua text stays out of BM25 (it would only lengthen the entries that have it).
            doc = Counter(terms(" ".join([e.answer["es"], e.answer["en"]])))
            for t, c in Counter(terms(e.head_text())).items():
                doc[t] += HEAD_BOOST * c
            self.docs.append(doc)
        self.lengths = np.array([sum(d.values()) for d in self.docs], dtype=float)
        self.avgdl = float(self.lengths.mean())
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(items)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # Surface words → stem, so a misspelled query word is compared with whole words.
        self.surface: dict[str, str] = {}
        for e in items:
            for w in words(e.head_text() + " " + e.answer["es"] + " " + e.answer["en"]):
                w = CANON.get(w, w)
                if len(w) >= 5 and w not in STOPWORDS and stem(w) in self.idf:
                    self.surface.setdefault(w, stem(w))
        self.intents = [frozenset().union(*(intents(q) for q in e.questions)) for e in items]
        self._resolved: dict[str, tuple[str | None, float]] = {}
        self.char = CharTfidf([content_text(e.index_text()) for e in items], 3, 5)
        # Whole-question similarity keeps the question words ("qué es", "dónde", "what to do")
        # that the other two signals drop as stopwords: they tell definitions from procedures.
        self.q_owner = [i for i, e in enumerate(items) for _ in e.questions]
        self.q_vec = CharTfidf([fold(q) for e in items for q in e.questions], 2, 4)

    def _resolve(self, word: str) -> tuple[str | None, float]:
        """Map a query word to an indexed stem: exact, else the nearest word by edits."""
        if word not in self._resolved:
            self._resolved[word] = self._resolve_uncached(word)
        return self._resolved[word]

    def _resolve_uncached(self, word: str) -> tuple[str | None, float]:
        term = stem(word)
        if term in self.idf:
            return term, 1.0
        if len(word) < 5:
            return None, 0.0
        limit = 1 if len(word) < 8 else 2
        best, best_d = None, limit + 1
        for cand, cand_stem in self.surface.items():
            if abs(len(cand) - len(word)) > limit or cand[0] != word[0]:
                continue
            d = edit_distance(word, cand, limit)
            if d < best_d or (d == best_d and best and self.idf[cand_stem] > self.idf[best]):
                best, best_d = cand_stem, d
        if best is None:
            return None, 0.0
        return best, 0.85 if best_d == 1 else 0.7

    def search(self, query: str, k: int = 5,
               weights: tuple[float, float, float] = (W_BM25, W_CHAR, W_QUESTION),
               use_intents: bool = True) -> tuple[list[Hit], float]:
        """Return the top ``k`` hits and the query's coverage (0–1, share of its idf matched).

        ``weights`` (BM25, char n-grams, question similarity) and ``use_intents`` exist for the
        benchmark's ablations; the assistant uses the defaults.
        """
        qwords = [CANON.get(w, w) for w in words(query)]
        qwords = [w for w in qwords if w not in STOPWORDS and len(w) >= 2]
        resolved = [(w, *self._resolve(w)) for w in dict.fromkeys(qwords)]
        resolved = list({(r[1] or r[0]): r for r in resolved}.values())
        bm25 = np.zeros(len(self.items))
        for _, term, weight in resolved:
            if term is None:
                continue
            idf = self.idf[term]
            for i, doc in enumerate(self.docs):
                tf = doc.get(term, 0)
                if tf:
                    denom = tf + K1 * (1 - B + B * self.lengths[i] / self.avgdl)
                    bm25[i] += weight * idf * tf * (K1 + 1) / denom
        char = np.array(self.char.similarities(content_text(query)))
        qsim = np.zeros(len(self.items))
        if self.q_owner:
            sims = self.q_vec.similarities(fold(query))
            for owner, sim in zip(self.q_owner, sims, strict=True):
                qsim[owner] = max(qsim[owner], sim)
        bm_norm = bm25 / bm25.max() if bm25.max() > 0 else bm25
        ch_norm = char / char.max() if char.max() > 0 else char
        fused = weights[0] * bm_norm + weights[1] * ch_norm + weights[2] * qsim
        q_intents = intents(query) if use_intents else frozenset()
        if q_intents:
            fused += INTENT_BOOST * np.array([bool(q_intents & it) for it in self.intents])
        folded = fold(query)
        for must, must_not, entry_id in PRIORITY_RULES:
            if must.search(folded) and not (must_not and must_not.search(folded)):
                at = next((i for i, e in enumerate(self.items) if e.id == entry_id), None)
                if at is not None:
                    fused[at] = fused.max() + 0.05
        order = np.argsort(-fused)[:k]
        hits = [Hit(self.items[i], float(fused[i]), float(bm25[i]), float(char[i]), float(qsim[i]))
                for i in order]
        coverage = self._coverage(resolved, hits[0].entry if hits else None)
        return hits, coverage

    def _coverage(self, resolved, top: Entry | None) -> float:
        """Share of the query's information (idf) that the top entry contains."""
        if top is None or not resolved:
            return 0.0
        doc = self.docs[self.items.index(top)]
        unknown_idf = max(self.idf.values()) if self.idf else 1.0
        total = matched = 0.0
        for _, term, weight in resolved:
            idf = self.idf.get(term, unknown_idf) if term else unknown_idf
            total += idf
            if term and doc.get(term):
                # a word matched only through a typo correction is weaker evidence
                matched += idf * (1.0 if weight >= 1.0 else 0.5)
        return matched / total if total else 0.0


@lru_cache(maxsize=1)
def default_index() -> Index:
    """Return the index over the shipped KB (built once per process)."""
    return Index(entries())


def confidence(hits: list[Hit], coverage: float) -> float:
    """Combine coverage, absolute char similarity and the margin over the runner-up (0–1)."""
    if not hits or hits[0].bm25 <= 0 and hits[0].char < 0.05:
        return 0.0
    top = hits[0]
    margin = top.score - hits[1].score if len(hits) > 1 else top.score
    char_abs = min(1.0, top.char / 0.35)
    return round(min(1.0, 0.6 * coverage + 0.25 * char_abs + 0.15 * min(1.0, margin / 0.3)), 3)
