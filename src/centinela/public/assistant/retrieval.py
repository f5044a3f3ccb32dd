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
# overdose gets the overdose-signs entry, never withdrawal (which shares "síntomas", "opioides");
# what to do in an overdose gets the first-aid steps, never the skin-contact myth (which shares
# "sobredosis" and "fentanilo"). Each rule: (must match, must not match, entry); when several
# match, the last one wins.
_OVERDOSE = r"(sobredosis|sobre dosis|overdos\w*|od|intoxicacion|intoxicad[oa]s?|se paso de)"
_ACTION = (r"(que (hago|hacer|debo hacer|puedo hacer|se hace|se debe hacer|hacemos)|"
           r"como (ayudo|ayudar|ayudarl[oa]|l[oa] ayudo|le ayudo|actuo|actuar|auxilio|auxiliar|"
           r"reacciono|reaccionar|salvo|salvar)|primeros auxilios|"
           r"what (should|do|can|must) (i|we|you) do|what to do|"
           r"how (to|do i|can i|should i|do you|do we|can we) (help|respond|treat|save)|"
           r"first aid|save (him|her|them|someone|a life))")
_TOUCH = r"(toc\w*|toque\w*|piel|contacto|touch\w*|skin|airborne|respir\w* cerca)"
_PAST = r"(murio|fallecio|died|passed away|hace (\w+ )?anos|years ago|perdi a|lost (my|a))"
_USES = (r"(que consume|que usa|consume drogas|se droga|adict[oa]s?|adiccion|consumo|"
         r"uses drugs|using drugs|addict\w*|who uses)")
_PERSONS = (r"(primo|prima|hij[oa]s?|herman[oa]s?|tio|tia|sobrin[oa]s?|espos[oa]|pareja|"
            r"novi[oa]|amig[oa]s?|papa|mama|padre|madre|abuel[oa]|cousin|son|daughter|brother|"
            r"sister|friend|husband|wife|partner|dad|mom|nephew|niece|uncle|aunt|relative|"
            r"familiar|family member|loved one)")
_PATCH = r"(parches?|patch\w*|adesivos?)"
_PATCH_MISUSE = (
    r"(mastic\w*|mascar|masco|mascad[oa]|chup\w*|chew\w*|suck\w*|fum\w*|smok\w*|inyect\w*|"
    r"inject\w*|herv\w*|(dos|tres|2|3|mas|varios) parches|(two|three|2|3|more|extra) patch\w*|"
    r"suelte mas|mas rapido|faster|quicker|mas fuerte|stronger|mas efecto|more effect|"
    r"que pegue|pegue mas|dure mas|last longer|(cort|part)\w* .{0,30}\b(para|to|so)\b|"
    r"volar\w*|get high|otro parche|another patch|doble parche|duplic\w*|double (the )?patch\w*|"
    r"(pon\w*|pong\w*|us\w*|aplic\w*|coloc\w*|wear|put on|use|add) (le |la |lo )?"
    r"(dos|tres|2|3|otro|otra|mas|another|two|three|extra)\b)")
_PREGNANT = (r"(embaraz\w*|gestante|gestando|gestacion|pregnan\w*|lactan\w*|lactar|amamant\w*|"
             r"dar (de )?pecho|breastfe\w*|nursing|wiksayuq|chichu)")
_SUBSTANCE = (r"(fentanil\w*|fenta|opioid\w*|opiace\w*|drogas?|drugs?|consum\w*|usando|using|"
              r"uso|tomo|tomando|taking|take|morfina|morphine|tramadol|codein\w*|oxicodona|"
              r"oxycodone|oxy|metadona|methadone|buprenorf\w*|parches?|patch\w*|pastillas?|"
              r"pills?|medic\w*|heroin\w*|hampi\w*)")
_CARRY = (r"(carry\w*|llevar|llevo|portar|porto|transport\w*|viaj\w*|travel\w*|fly|flying|"
          r"avion|plane|vuelo|flight|aeropuerto|airport|aduana|customs|frontera|border|"
          r"maleta|luggage|suitcase|conmigo|with me|posesion|possession)")
_PRESCRIBED = (r"(prescri\w*|recetad[oa]s?|receta|me (lo |la |los |las )?recet\w*|"
               r"my doctor|mi medico|(mi|mis|my) (propi[oa]s?|own|tratamiento|treatment|"
               r"medicamentos?|medicines?|medication|parches|patches|pastillas|pills))")
_QUIT = (r"(quiero|necesito|quisiera|deseo|ayuda para|ayudame a|como hago para|como puedo|"
         r"want to|need to|trying to|help me|how (do|can) i) (\w+ )?"
         r"(dejar|dejarl[oa]|salir|quit|stop|get clean|desintox\w*|rehabilit\w*)")
_WHERE_HELP = (r"(donde|a donde|adonde|a quien|where|who|ayuda|help|voy|acudo|recurro|busco|"
               r"centro|tratamiento|treatment)")
_QUIT_PAST = (r"(deje|he dejado|estoy dejando|dejando|desde que (deje|pare|no)|sin consumir|"
              r"i quit|i stopped|stopped using|since i (quit|stopped)|quitting|parei|deixei)")
_WITHDRAWAL_SIGNS = (r"(sud\w*|sweat\w*|pica\w*|itch\w*|escalofri\w*|chills|dolor\w*|duele|"
                     r"aches?|diarrea|diarrh\w*|vomit\w*|no (puedo )?dorm\w*|insomni\w*|"
                     r"cant sleep|ansiedad|anxi\w*|temblor\w*|shak\w*|bostez\w*|yawn\w*|mocos?|"
                     r"runny|calambres|cramps|piel de gallina|goosebumps|inquiet\w*|restless)")
_RETALIATION = (r"(enter\w*|sabr\w* que (fui|yo)|sepa(n)? que (fui|yo)|sabr\w* quien|descubr\w*|"
                r"represalia\w*|venganza|vengar\w*|find out|know (it was|that i|i)|retaliat\w*|"
                r"revenge|fui yo|it was me|hacerme algo|me (puede|pueden|podria|podrian|van a) "
                r"hacer algo|do something to me|come after me|me van a buscar|miedo|afraid|"
                r"scared)")
_REPORTING = (r"(denunci\w*|report\w*|vendedor\w*|dealer|seller|fui yo|it was me|enter\w*|"
              r"find out|delat\w*|soplon)")


def _all(*parts: str) -> re.Pattern:
    """A pattern that matches when every part occurs somewhere (as whole words)."""
    return re.compile("^" + "".join(rf"(?=.*\b{p}\b)" for p in parts))


PRIORITY_RULES: tuple[tuple[re.Pattern, re.Pattern | None, str], ...] = (
    (re.compile(r"(?=.*\b(sobredosis|sobre dosis|overdos\w*|od|intoxicacion|intoxicad[oa])\b)"
                r"(?=.*\b(sintomas?|signos?|senales?|señales?|symptoms?|signs?|reconocer|"
                r"reconozco|identific\w*|como se ve|looks? like|como saber|how (do|can) i tell|"
                r"recogni[sz]e|spot)\b)"),
     re.compile(r"\b(abstinencia|withdrawal|dejar de|quitting|detox|desintoxic\w*)\b"),
     "overdose_signs"),
    (_all(_OVERDOSE, _ACTION), re.compile(rf"\b({_TOUCH}|{_PAST}|{_USES})\b"),
     "overdose_response"),
    (_all(r"(naloxon\w*|naloxna|narcan)",
          r"(cuant[oa]s? (\w+ )?(naloxon\w*|narcan|veces|dosis|sprays?|aplicaciones|le)|"
          r"how (much|many) (\w+ )?(naloxone|narcan|doses|times|sprays)|otra dosis|otra vez|"
          r"repetir|repeat|again|no funciona|"
          r"no hace efecto|no despierta|no reacciona|did not work|didn'?t work|doesn'?t work|"
          r"second dose|le (pongo|doy|aplico)|give (him|her|them))"),
     None, "overdose_response"),
    (_all(_PATCH, _PATCH_MISUSE), None, "patch_misuse"),
    (_all(_PREGNANT, _SUBSTANCE), None, "pregnancy"),
    (_all(_CARRY, _PRESCRIBED), None, "carry_prescribed"),
    (_all(_QUIT, _WHERE_HELP),
     re.compile(r"\b(abstinencia|withdrawal|sintomas|symptoms|de golpe|suddenly|que pasa si|"
                r"what happens)\b"), "get_help"),
    (_all(_QUIT_PAST, _WITHDRAWAL_SIGNS), None, "withdrawal"),
    (_all(r"(como (ayudo|apoyo|ayudar|apoyar|hablo|le hablo|hablarle|convenzo|lo ayudo|la ayudo|"
          r"lo apoyo|la apoyo)|que (hago|puedo hacer) (con|por)|how (do|can|to|should) (i )?"
          r"(help|support|talk))", _PERSONS, _USES + r"|fentanil\w*|fenta|drogas?|drugs?"),
     re.compile(rf"^(?=.*\b{_OVERDOSE}\b)(?!.*\b{_PAST}\b)"), "family_support"),
    (_all(_RETALIATION, _REPORTING), None, "report_privacy"),
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
    priority: bool = False  # raised by a priority rule (the question's subject is certain)


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

    def knows(self, word: str) -> bool:
        """True when ``word`` (folded) is an indexed term, exactly or by its stem."""
        word = CANON.get(word, word)
        return stem(word) in self.idf

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
        folded = fold(query).replace("¿", " ").replace("?", " ")
        raised = set()
        for must, must_not, entry_id in PRIORITY_RULES:
            if must.search(folded) and not (must_not and must_not.search(folded)):
                at = next((i for i, e in enumerate(self.items) if e.id == entry_id), None)
                if at is not None:
                    fused[at] = fused.max() + 0.05
                    raised.add(at)
        order = np.argsort(-fused)[:k]
        hits = [Hit(self.items[i], float(fused[i]), float(bm25[i]), float(char[i]), float(qsim[i]),
                    i in raised) for i in order]
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


# A priority rule names the subject for certain: its entry is answered even when the question
# shares few words with it ("se van a enterar que fui yo" → the privacy of reports).
PRIORITY_CONFIDENCE = 0.5


def confidence(hits: list[Hit], coverage: float) -> float:
    """Combine coverage, absolute char similarity and the margin over the runner-up (0–1)."""
    if hits and hits[0].priority:
        return max(PRIORITY_CONFIDENCE, _confidence(hits, coverage))
    return _confidence(hits, coverage)


def _confidence(hits: list[Hit], coverage: float) -> float:
    if not hits or hits[0].bm25 <= 0 and hits[0].char < 0.05:
        return 0.0
    top = hits[0]
    margin = top.score - hits[1].score if len(hits) > 1 else top.score
    char_abs = min(1.0, top.char / 0.35)
    return round(min(1.0, 0.6 * coverage + 0.25 * char_abs + 0.15 * min(1.0, margin / 0.3)), 3)
