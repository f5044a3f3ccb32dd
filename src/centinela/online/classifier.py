"""Offer-to-sell-opioids classifier: lexicon features + char/word TF-IDF + logistic regression.

The probability is Platt-calibrated on out-of-fold scores whose folds are whole templates, so
it reflects performance on unseen phrasings. ``explain`` names the words, word n-grams and
lexicon categories that pushed a text toward or away from "offer".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import normalize

from centinela.lib.text import deleet, fold
from centinela.lib.text import normalize as clean_text
from centinela.online.lexicon import CATEGORIES, LexiconHits, load_lexicon

THRESHOLD = 0.5
C_REG = 16.0
LEX_SCALE = 1.0  # C_REG and LEX_SCALE chosen on the validation split (docs/online.md)
_PAIRS = [("opioid", c) for c in ("sale", "payment", "form", "code_emoji", "news", "harm_reduction",
                                   "medical", "legit_pharmacy", "job", "request")]
_PAIRS += [("other_drug", "sale"), ("other_drug", "payment")]
LEX_FEATURES = [f"lexicon:{c}" for c in CATEGORIES] + [f"lexicon:{a}+{b}" for a, b in _PAIRS] + [
    "lexicon:phone", "lexicon:price"]
_PHONE = re.compile(r"(?<!\d)(?:\+?51[\s.-]?)?9\d{2}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")
_PRICE = re.compile(r"(?:s/\.?|\$|usd)\s?\d|\d\s?(?:soles|lucas|dolares|bucks)\b")


def view(text: str) -> str:
    """The folded text the lexicon, the model and the rules read: separators and punctuation
    normalized (``lib.text.normalize``), folded, and words spelled out letter by letter joined
    ("F.E.N.T.A" → "fenta", ``lexicon.join_spelled``)."""
    return load_lexicon().join_spelled(fold(clean_text(text)))


def prepare(text: str) -> str:
    """Return the model's view of a text: folded, plus its de-leeted copy when different."""
    return prepare_folded(view(text))


def prepare_folded(f: str) -> str:
    """``prepare`` for already folded text."""
    d = deleet(f)
    return f if d == f else f"{f} {d}"


def lexicon_matrix(hits: list[LexiconHits], prepared: list[str]) -> np.ndarray:
    """``lexicon_vector`` of a batch as one array (same values, without per-feature Python)."""
    counts = np.array([[len(h.by_category.get(c, ())) for c in CATEGORIES] for h in hits],
                      dtype=float).reshape(len(hits), len(CATEGORIES))
    opioid = counts[:, CATEGORIES.index("fentanyl")] + counts[:, CATEGORIES.index("other_opioid")]
    present = counts > 0
    pairs = np.empty((len(hits), len(_PAIRS)))
    for k, (a, b) in enumerate(_PAIRS):
        first = opioid > 0 if a == "opioid" else present[:, CATEGORIES.index(a)]
        pairs[:, k] = first & present[:, CATEGORIES.index(b)]
    flags = np.array([[bool(_PHONE.search(p)), bool(_PRICE.search(p))] for p in prepared],
                     dtype=float).reshape(len(hits), 2)
    return np.hstack([np.log1p(counts), pairs, flags]) * LEX_SCALE


def lexicon_vector(hits: LexiconHits, folded: str) -> list[float]:
    """Dense lexicon features: log counts per category, interactions, phone and price flags."""
    counts = {c: hits.count(c) for c in CATEGORIES}
    counts["opioid"] = counts["fentanyl"] + counts["other_opioid"]
    row = [math.log1p(counts[c]) for c in CATEGORIES]
    row += [float(counts[a] > 0 and counts[b] > 0) for a, b in _PAIRS]
    row += [float(bool(_PHONE.search(folded))), float(bool(_PRICE.search(folded)))]
    return [v * LEX_SCALE for v in row]


class FastTfidf:
    """Exact, faster ``transform`` of a fitted char_wb or word ``TfidfVectorizer``.

    scikit-learn builds every n-gram string of every post in Python. Here a ``char_wb``
    vectorizer's n-grams, which never cross a word, are looked up once per distinct word and
    cached as column indices; a word vectorizer's unigrams and bigrams are looked up directly.
    Counts, sublinear tf, idf and l2 norm are then applied to the whole batch with numpy —
    the same matrix as ``vectorizer.transform`` (tested).
    """

    MAX_CACHE = 200_000  # distinct words kept; the cache is dropped and refilled beyond that

    def __init__(self, vectorizer: TfidfVectorizer):
        self.vec = vectorizer
        self.vocab: dict[str, int] = vectorizer.vocabulary_
        self.idf = vectorizer.idf_.astype(vectorizer.dtype)
        self.n_features = len(self.vocab)
        self.kind = vectorizer.analyzer
        ok = (not vectorizer.lowercase and vectorizer.strip_accents is None
              and vectorizer.preprocessor is None and vectorizer.tokenizer is None
              and vectorizer.stop_words is None and vectorizer.input == "content"
              and vectorizer.norm == "l2" and vectorizer.use_idf and not vectorizer.binary)
        if self.kind == "char_wb":
            self._cache: dict[str, np.ndarray] = {}
        elif self.kind == "word" and tuple(vectorizer.ngram_range) in ((1, 1), (1, 2)):
            self._tokens = re.compile(vectorizer.token_pattern).findall
            self._bigrams = tuple(vectorizer.ngram_range) == (1, 2)
        else:
            ok = False
        self.exact = ok

    def _word_columns(self, word: str) -> np.ndarray:
        vocab = self.vocab
        cols = [vocab[g] for g in self.vec._char_wb_ngrams(word) if g in vocab]
        arr = np.array(cols, dtype=np.int32)
        if len(self._cache) >= self.MAX_CACHE:
            self._cache.clear()
        self._cache[word] = arr
        return arr

    def _columns(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Column index of every counted n-gram (repeats kept) and each doc's count of them."""
        if self.kind == "char_wb":
            cache, miss = self._cache, self._word_columns
            parts = []
            lengths = np.zeros(len(docs), dtype=np.int64)
            for i, doc in enumerate(docs):
                words = doc.split()
                try:
                    arrs = [cache[w] if w in cache else miss(w) for w in words]
                except KeyError:  # another thread emptied the cache meanwhile
                    arrs = [miss(w) for w in words]
                if arrs:
                    row = np.concatenate(arrs) if len(arrs) > 1 else arrs[0]
                    parts.append(row)
                    lengths[i] = len(row)
            cols = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
            return cols, lengths
        vocab, flat = self.vocab, []
        lengths = np.zeros(len(docs), dtype=np.int64)
        for i, doc in enumerate(docs):
            toks = self._tokens(doc)
            grams = toks + list(map(" ".join, pairwise(toks))) if self._bigrams else toks
            found = [vocab[g] for g in grams if g in vocab]
            flat += found
            lengths[i] = len(found)
        return np.array(flat, dtype=np.int32), lengths

    def transform(self, docs: list[str]) -> sparse.csr_matrix:
        if not self.exact:
            return self.vec.transform(docs)
        cols, lengths = self._columns(docs)
        rows = np.repeat(np.arange(len(docs), dtype=np.int32), lengths)
        x = sparse.coo_matrix((np.ones(len(cols), dtype=self.vec.dtype), (rows, cols)),
                              shape=(len(docs), self.n_features)).tocsr()
        x.sum_duplicates()  # counts per (post, n-gram), indices sorted
        if self.vec.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        x.data *= self.idf[x.indices]
        return normalize(x, norm="l2", copy=False)


@dataclass
class Model:
    """A trained model: two vectorizers, the linear classifier and the Platt calibration."""

    char: TfidfVectorizer
    word: TfidfVectorizer
    clf: LogisticRegression
    platt: tuple[float, float]
    lexicon_sha256: str

    def __getstate__(self) -> dict:
        # caches (fast vectorizers, feature names) are rebuilt after loading, never pickled
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def _fast(self) -> tuple[FastTfidf, FastTfidf]:
        fast = self.__dict__.get("_fast_tfidf")
        if fast is None:
            fast = self.__dict__["_fast_tfidf"] = (FastTfidf(self.char), FastTfidf(self.word))
        return fast

    def features(self, texts: list[str]) -> tuple[sparse.csr_matrix, list[LexiconHits], list[str]]:
        """Design matrix (char TF-IDF | word TF-IDF | lexicon features), lexicon hits, model view.

        Folding and de-leeting are done once per post and shared by the lexicon and TF-IDF.
        """
        lex = load_lexicon()
        folded = [view(t) for t in texts]
        deleeted = [deleet(f) for f in folded]
        prepared = [f if d == f else f"{f} {d}" for f, d in zip(folded, deleeted, strict=True)]
        hits = [lex.match_folded(f, d) for f, d in zip(folded, deleeted, strict=True)]
        char, word = self._fast()
        x = sparse.hstack([char.transform(prepared), word.transform(prepared),
                           sparse.csr_matrix(lexicon_matrix(hits, prepared))], format="csr")
        return x, hits, prepared

    def decision(self, x: sparse.csr_matrix) -> np.ndarray:
        return self.clf.decision_function(x)

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * scores + b)))

    def predict_proba(self, texts: list[str]) -> tuple[np.ndarray, list[LexiconHits]]:
        """Return calibrated P(offer) for each text and its lexicon hits."""
        x, hits, _ = self.features(texts)
        return self.calibrate(self.decision(x)), hits

    def feature_names(self) -> list[str]:
        if not hasattr(self, "_names"):
            names = [f"char:{n}" for n in self.char.get_feature_names_out()]
            names += [f"word:{n}" for n in self.word.get_feature_names_out()]
            self._names = names + LEX_FEATURES
        return self._names

    def explain(self, text: str, top: int = 8) -> dict:
        """Return the words and features that pushed ``text`` toward or away from 'offer'."""
        x, hits, prepared = self.features([text])
        coef = self.clf.coef_[0]
        row = x.getrow(0)
        contrib = {int(j): float(v * coef[j]) for j, v in zip(row.indices, row.data, strict=True)}
        n_char = len(self.char.vocabulary_)
        words: dict[str, float] = {}
        occurrences: dict[int, int] = {}
        tokens = re.findall(r"\S+", prepared[0])
        grams_of = {}
        for tok in set(tokens):
            padded = f" {tok} "
            grams = {padded[i:i + n] for n in range(2, 6) for i in range(len(padded) - n + 1)}
            idx = {self.char.vocabulary_[g] for g in grams if g in self.char.vocabulary_}
            grams_of[tok] = idx
            for j in idx:
                occurrences[j] = occurrences.get(j, 0) + 1
        for tok, idx in grams_of.items():
            words[tok] = sum(contrib.get(j, 0.0) / occurrences[j] for j in idx)
        names = self.feature_names()
        other = [(names[j], round(c, 4)) for j, c in contrib.items() if j >= n_char and c != 0.0]
        ranked_words = sorted(words.items(), key=lambda kv: kv[1], reverse=True)
        return {
            "toward_offer": [(w, round(s, 4)) for w, s in ranked_words[:top] if s > 0],
            "against_offer": [(w, round(s, 4)) for w, s in ranked_words[::-1][:top] if s < 0],
            "features": sorted(other, key=lambda kv: abs(kv[1]), reverse=True)[:top],
            "lexicon": hits[0].by_category,
            "intercept": round(float(self.clf.intercept_[0]), 4),
        }


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                           max_features=60000, lowercase=False, dtype=np.float32)
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                           max_features=20000, lowercase=False, dtype=np.float32,
                           token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    return char, word


def _fit_linear(x: sparse.csr_matrix, y: np.ndarray, weights: np.ndarray) -> LogisticRegression:
    clf = LogisticRegression(C=C_REG, class_weight="balanced", max_iter=3000, solver="liblinear")
    clf.fit(x, y, sample_weight=weights)
    return clf


def _design(texts: list[str], char: TfidfVectorizer, word: TfidfVectorizer,
            fit: bool = False) -> sparse.csr_matrix:
    prepared = [prepare(t) for t in texts]
    lex = load_lexicon()
    dense = lexicon_matrix([lex.match_folded(view(t)) for t in texts], prepared)
    if fit:
        parts = [char.fit_transform(prepared), word.fit_transform(prepared)]
    else:
        parts = [char.transform(prepared), word.transform(prepared)]
    return sparse.hstack([*parts, sparse.csr_matrix(dense)], format="csr")


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(platt.coef_[0][0]), float(platt.intercept_[0])


def fit(texts: list[str], labels: list[int], groups: list[str] | None = None,
        weights: list[float] | None = None, valid: tuple[list[str], list[int]] | None = None,
        folds: int = 5) -> Model:
    """Train a model and calibrate its probability.

    With ``valid`` (texts built from phrasings the train texts never use), the Platt scaling is
    fit on validation scores of a train-only model, then the final model is refit on train +
    validation. Without it, out-of-fold scores with whole ``groups`` (templates) per fold are used.
    """
    w = np.asarray(weights if weights is not None else [1.0] * len(texts), dtype=float)
    y = np.asarray(labels)
    lex_sha = load_lexicon().sha256
    if valid is not None:
        char, word = _vectorizers()
        x = _design(texts, char, word, fit=True)
        first = _fit_linear(x, y, w)
        platt = _platt(first.decision_function(_design(valid[0], char, word)), np.asarray(valid[1]))
        texts = list(texts) + list(valid[0])
        y = np.concatenate([y, np.asarray(valid[1])])
        w = np.concatenate([w, np.ones(len(valid[0]))])
        char, word = _vectorizers()
        x = _design(texts, char, word, fit=True)
        return Model(char=char, word=word, clf=_fit_linear(x, y, w), platt=platt,
                     lexicon_sha256=lex_sha)
    char, word = _vectorizers()
    x = _design(texts, char, word, fit=True)
    groups = groups or [str(i) for i in range(len(texts))]
    oof = np.zeros(len(texts))
    for tr, te in GroupKFold(n_splits=min(folds, len(set(groups)))).split(x, y, groups):
        oof[te] = _fit_linear(x[tr], y[tr], w[tr]).decision_function(x[te])
    return Model(char=char, word=word, clf=_fit_linear(x, y, w), platt=_platt(oof, y),
                 lexicon_sha256=lex_sha)


def metrics(y_true: list[int], y_pred: list[int]) -> dict:
    """Precision, recall, F1 and accuracy of binary predictions (positive = offer)."""
    tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t and p)
    fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t and not p)
    tn = len(y_true) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(y_true), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "accuracy": round((tp + tn) / len(y_true), 4) if y_true else 0.0}


@dataclass
class Evaluation:
    model: dict
    keyword_baseline: dict
    errors: list[dict] = field(default_factory=list)
    model_only: dict = field(default_factory=dict)  # the model's probability alone, no rules
    decided_by: dict = field(default_factory=dict)  # how many verdicts each part gave


def _title(text: str, context: str) -> str | None:
    """The first line of a multi-line market listing (its title), else None."""
    if context != "market" or "\n" not in text:
        return None
    first = text.split("\n", 1)[0].strip()
    return first if len(first.split()) >= 2 else None


def decide_batch(model: Model, texts: list[str], contexts: list[str],
                 threshold: float = THRESHOLD) -> tuple[list, np.ndarray, list[LexiconHits]]:
    """Source-aware decisions of a batch: (decisions, model probabilities, lexicon hits)."""
    from centinela.online.decide import decide, rules_for
    from centinela.online.quotes import NO_QUOTES, quoted_speech

    if not texts:
        return [], np.zeros(0), []
    x, hits, prepared = model.features(texts)
    proba = model.calibrate(model.decision(x))
    lex = load_lexicon()
    reports = rules_for(lex).quote_frame.search
    out = [decide(v, h, float(p), c, lex, threshold, title=_title(t, c), questions=_questions(t),
                  quotes=quoted_speech(t, lex, reports) if c != "market" and h.opioid else NO_QUOTES)
           for v, h, p, c, t in zip(prepared, hits, proba, contexts, texts, strict=True)]
    return out, proba, hits


_QUESTION = re.compile(r"[^.!?¿¡\n]*\?")


def _questions(text: str) -> str:
    """The model's view of a text's questions (each clause ending in "?"), " | "-joined."""
    if "?" not in text:
        return ""
    return " | ".join(prepare(q) for q in _QUESTION.findall(text) if q.strip(" ?"))


def evaluate(model: Model, rows: list[dict], context: str | None = None) -> Evaluation:
    """Score the decision (rules + model, in each row's ``context`` or ``context``), the model
    alone and the keyword-only baseline on labeled rows."""
    from centinela.online.decide import DEFAULT_CONTEXT

    texts = [r["text"] for r in rows]
    y = [int(r["label"]) for r in rows]
    contexts = [context or r.get("context") or DEFAULT_CONTEXT for r in rows]
    decisions, proba, hits = decide_batch(model, texts, contexts)
    pred = [int(d.is_offer) for d in decisions]
    base = [int(h.keyword_offer()) for h in hits]
    errors = [{"text": t, "label": yy, "probability": round(float(d.probability), 3),
               "decided_by": d.decided_by, "rule": d.rule}
              for t, yy, d, pp in zip(texts, y, decisions, pred, strict=True) if yy != pp]
    by: dict[str, int] = {}
    for d in decisions:
        by[d.decided_by] = by.get(d.decided_by, 0) + 1
    return Evaluation(model=metrics(y, pred), keyword_baseline=metrics(y, base), errors=errors,
                      model_only=metrics(y, [int(p >= THRESHOLD) for p in proba]), decided_by=by)
