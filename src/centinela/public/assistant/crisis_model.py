"""A small text model behind the red-flag lexicon: it catches crisis messages written in words
the rules do not list (indirect ideation, slang, missing accents, Quechua key phrases).

Logistic regression over character n-grams (inside words, 2–5) and word uni/bigrams, trained at
first use (well under a second) from ``public/data/crisis/train.jsonl`` plus the KB's own example
questions as ordinary messages. Nothing is downloaded; the evaluation set
(``public/data/eval/crisis_eval.jsonl``) is never read here.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from centinela.lib.text import fold_keep_enye as fold

# Probability that a message is *not* ordinary above which it is flagged. Low on purpose: a
# false flag costs a polite message with the emergency numbers, a miss can cost a life.
CRISIS_THRESHOLD = 0.6
LABELS = ("none", "suicide", "overdose", "emergency", "child")


def training_rows() -> list[tuple[str, str]]:
    """(text, label) pairs: the shipped crisis phrases and the KB questions as ordinary."""
    from centinela.public.assistant.kb import entries

    path = resources.files("centinela") / "public" / "data" / "crisis" / "train.jsonl"
    rows = [(r["text"], r["label"]) for r in
            (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)]
    rows += [(q, "none") for e in entries() for q in e.questions]
    return rows


@lru_cache(maxsize=1)
def model():
    """Train (once per process) and return the fitted pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from threadpoolctl import threadpool_limits

    rows = training_rows()
    texts = [fold(t) for t, _ in rows]
    labels = [lab for _, lab in rows]
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                        token_pattern=r"[a-zñ]+"),
    )
    clf = LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced", solver="newton-cg")
    pipe = make_pipeline(features, clf)
    # One BLAS thread: on a busy machine a thread pool makes this small fit 30x slower.
    with threadpool_limits(1):
        pipe.fit(texts, labels)
    return pipe


def crisis_probability(message: str) -> tuple[float, str]:
    """Return (P(not ordinary), most likely crisis category) for ``message``."""
    pipe = model()
    probs = pipe.predict_proba([fold(message)])[0]
    classes = list(pipe.classes_)
    p_none = probs[classes.index("none")]
    best = max((c for c in classes if c != "none"), key=lambda c: probs[classes.index(c)])
    return float(1.0 - p_none), best


# Questions about a subject ("qué es…", "dónde hay…", "what are…"): never a crisis on the
# model's word alone.
_QUESTION = re.compile(r"^[¿¡\s]*(?:que (?:es|son|significa|pasa si|dice)|donde|cuanto cuesta|"
                       r"como (?:se|funciona|saco|llego|denuncio|guardo|desecho)|hay (?:un|una) "
                       r"(?:csmc|centro|grupo|farmacia|feria)|what (?:is|are|does)|where|how "
                       r"(?:do|does|to|can)|is (?:it|there)|are there)\b")


def predict(message: str) -> tuple[str, str] | None:
    """Return (category, cue) when the model finds a crisis the lexicon missed, else None."""
    folded = fold(message)
    if len(folded) < 8 or _QUESTION.match(folded):
        return None  # asking about a subject is not being in crisis (the lexicon still runs)
    p, category = crisis_probability(message)
    if p >= CRISIS_THRESHOLD:
        return str(category), f"model p={p:.2f}"
    return None
