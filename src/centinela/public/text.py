"""Text normalization shared by triage and the assistant: accent folding, tokens, light
stemming, fuzzy token matching and character n-gram similarity (all robust to misspelling)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache

from centinela.lib.text import edit_distance, fold_keep_enye

_WORD = re.compile(r"[a-z0-9ñ]+")

STOPWORDS = frozenset("""
a al algo algun alguna alguno algunos ante antes aqui asi aun bien cada como con contra cual
cuales cuando de del desde donde dos el ella ellas ellos en entre era es esa ese eso esta estan
este esto estos ha hay la las le les lo los mas me mi mis mucho muy nada ni no nos o otra otro
para pero poco por porque que quien se sea segun ser si sin sobre solo son su sus tambien te
tengo tiene tu tus un una uno unos y ya yo q xq pq k ke porq usted ustedes puedo puede hacer
hago debo seria favor hola buenas buenos dias tardes noches alguien algun alguna persona
cuanto cuanta cuantos cuantas decir dicen dice sabe saber exactamente explicas
me mio mia
the a an and are as at be been but by can could do does doing did for from had has have how
i if in into is it its me my of on or our so some such than that the their them then there
these they this to too was we were what when where which who why will with would you your im
dont should about any am just get got tell know want please hi hello someone somebody
anyone really exactly
""".split())

# Domain spellings and slang folded to one form before stemming (general, not per-question).
CANON = {
    "fenta": "fentanilo", "fentanil": "fentanilo", "fentanylo": "fentanilo",
    "fentanyl": "fentanilo", "fentanilos": "fentanilo", "fentanyls": "fentanilo",
    "narcan": "naloxona", "naloxone": "naloxona", "naloxon": "naloxona",
    "od": "sobredosis", "odd": "sobredosis", "overdose": "sobredosis", "overdoses": "sobredosis",
    "overdosing": "sobredosis", "overdosed": "sobredosis", "sobredósis": "sobredosis",
    "opioid": "opioide", "opioids": "opioide", "opiaceo": "opioide", "opiaceos": "opioide",
    "opiate": "opioide", "opiates": "opioide", "opioides": "opioide",
    "painkiller": "analgesico", "painkillers": "analgesico", "analgesicos": "analgesico",
    "pastis": "pastilla", "pildora": "pastilla", "pildoras": "pastilla", "pills": "pastilla",
    "pill": "pastilla", "tablets": "pastilla", "tablet": "pastilla", "pastillas": "pastilla",
    "ampolla": "ampolla", "ampollas": "ampolla", "ampoule": "ampolla", "ampoules": "ampolla",
    "patch": "parche", "patches": "parche", "parches": "parche",
    "morphine": "morfina", "codeine": "codeina", "oxycodone": "oxicodona", "oxycodona": "oxicodona",
    "oxy": "oxicodona", "heroin": "heroina", "benzos": "benzodiacepina",
    "benzodiazepines": "benzodiacepina", "benzodiacepinas": "benzodiacepina",
    "pharmacy": "farmacia", "pharmacies": "farmacia", "botica": "farmacia", "boticas": "farmacia",
    "prescription": "receta", "prescriptions": "receta", "recetas": "receta",
    "rehab": "rehabilitacion", "addiction": "adiccion", "addicted": "adicto",
    "withdrawal": "abstinencia", "myth": "mito", "myths": "mito", "mitos": "mito",
    "law": "ley", "report": "denuncia", "reportar": "denuncia", "denunciar": "denuncia",
    "denuncio": "denuncia", "reporto": "denuncia", "reporte": "denuncia",
}


def words(text: str) -> list[str]:
    """Return the folded word tokens of ``text`` (stopwords kept)."""
    return _WORD.findall(fold_keep_enye(text))


_SUFFIXES = (
    "amientos", "imientos", "amiento", "imiento", "aciones", "uciones", "adoras", "adores",
    "ancias", "encias", "idades", "amente", "mente", "acion", "ucion", "adora", "ador", "ancia",
    "encia", "idad", "ables", "ibles", "able", "ible", "istas", "ista", "ando", "iendo", "ados",
    "adas", "idos", "idas", "ado", "ada", "ido", "ida", "ivos", "ivas", "ivo", "iva", "osos",
    "osas", "oso", "osa", "ings", "ing", "ness", "ment", "ies", "ied", "ed", "ly", "es", "ar",
    "er", "ir", "as", "os", "a", "o", "e", "s",
)


@lru_cache(maxsize=20000)
def stem(token: str) -> str:
    """Strip one common Spanish/English suffix, keeping a stem of at least four letters."""
    if len(token) <= 4 or token.isdigit():
        return token
    for suf in _SUFFIXES:
        if token.endswith(suf) and len(token) - len(suf) >= 4:
            return token[: -len(suf)]
    return token


def terms(text: str) -> list[str]:
    """Return the stemmed content terms of ``text`` (canonical spellings, no stopwords)."""
    out = []
    for w in words(text):
        w = CANON.get(w, w)
        if w in STOPWORDS or len(w) < 2:
            continue
        out.append(stem(w))
    return out


def content_text(text: str) -> str:
    """Return ``text`` folded, canonicalized and without stopwords (input of char n-grams)."""
    return " ".join(CANON.get(w, w) for w in words(text) if CANON.get(w, w) not in STOPWORDS)


def fuzzy_equal(token: str, target: str) -> bool:
    """True when ``token`` is ``target`` up to a typo (1 edit from 5 letters, 2 from 9)."""
    if token == target:
        return True
    n = len(target)
    if n < 5 or len(token) < 4:
        return False
    return edit_distance(token, target, 2 if n >= 9 else 1) <= (2 if n >= 9 else 1)


def char_ngrams(text: str, n: int = 3) -> Counter[str]:
    """Return counts of character n-grams of the folded content text, padded at word edges."""
    grams: Counter[str] = Counter()
    for w in content_text(text).split():
        padded = f" {w} "
        for i in range(max(1, len(padded) - n + 1)):
            grams[padded[i : i + n]] += 1
    return grams


def cosine(a: Counter[str], b: Counter[str]) -> float:
    """Cosine similarity of two sparse count vectors."""
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def text_similarity(a: str, b: str) -> float:
    """Character-trigram cosine similarity of two free texts (0–1)."""
    return cosine(char_ngrams(a), char_ngrams(b))


def wb_ngrams(text: str, low: int = 3, high: int = 5) -> Counter[str]:
    """Character n-grams inside space-padded words (like scikit-learn's ``char_wb``)."""
    grams: Counter[str] = Counter()
    for w in text.split():
        padded = f" {w} "
        for n in range(low, high + 1):
            if len(padded) < n:
                grams[padded] += 1
                break
            for i in range(len(padded) - n + 1):
                grams[padded[i : i + n]] += 1
    return grams


class CharTfidf:
    """Small char n-gram TF-IDF (sublinear tf, smooth idf, L2 norm) over a fixed corpus."""

    def __init__(self, docs: list[str], low: int = 3, high: int = 5):
        self.low, self.high = low, high
        counts = [wb_ngrams(d, low, high) for d in docs]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(docs)
        self.idf = {g: math.log((1 + n) / (1 + k)) + 1 for g, k in df.items()}
        self.vectors = [self._weigh(c) for c in counts]

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        vec = {g: (1 + math.log(c)) * self.idf[g] for g, c in counts.items() if g in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {g: v / norm for g, v in vec.items()} if norm else {}

    def similarities(self, text: str) -> list[float]:
        """Cosine similarity of ``text`` with every fitted document."""
        q = self._weigh(wb_ngrams(text, self.low, self.high))
        return [sum(v * doc.get(g, 0.0) for g, v in q.items()) for doc in self.vectors]


def collation_key(text: str) -> tuple[str, str, str]:
    """Sort key for Spanish (es-PE) lists shown to people: accents and case are ignored at the
    first level ("Áncash" sorts with "Ancash", before "Apurímac"), ñ is a letter after n."""
    low = (text or "").lower()
    primary = fold_keep_enye(low.replace("ñ", "n{"))  # "{" sorts right after "z"
    secondary = unicodedata.normalize("NFD", low)
    return primary, secondary, text or ""
