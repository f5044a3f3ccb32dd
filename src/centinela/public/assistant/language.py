"""Guess the language of a short message: Spanish, English or Quechua (Spanish by default)."""

from __future__ import annotations

from centinela.public.text import words

LANGS = ("es", "en", "qu")
_ES = frozenset("""que de la el en y los las por para con una un es se no mi como donde cual
cuales hay puedo tengo esta del al lo le su si pero mas muy porque quiero hijo alguien
sobredosis receta farmacia ayuda denuncia consigo conseguir dond sirve tomar dejar puede
mis tu te yo ya q xq pq hace hacer sin tiene son""".split())
_EN = frozenset("""the what is are how do does can i my you to of and in for with where why
should it this that someone overdose help pills please have who get take safe use there
when which your me am was were been being an be at by from on or not no if so will would
could need want know tell give find much many near nearest friend son daughter kid about
fentanyl patch patches safety tips common myths opioids painkillers naloxone withdrawal
addiction treatment dispose store kids children doctor pharmacy prescription""".split())
_QU = frozenset("""mana imataq imata ima maypi pitaq allin kani kanki kachkan yanapaway
wawqiy ñañay paniy turay wawa hampi hampita samanchu rikchanchu munani munanichu wañuyta
usqhay usqhayta kawsay kawsayta achkata upyarqan millpurqan mikhurqan qhali runa rimay
yachay haykataq imayna imaynata imaynatam imaynam imaynataq maypim maypitaq maypipas
haykapi haykapitaq pim pitaq imam imatam churani churay churana nisqa nisqata nisqamanta
nispa ñuqa ñoqa noqa ñuqaq qam qampa manam manan arí ari kay chay hina huk iskay unquy
unquni nanay nanan nanawan hampikuq hampina sunqu wasi wasiy tayta taytay mama mamay
warmi qari wawaykuna yanapay yanapawanki atinichu atinki""".split())
_QU_SUFFIXES = ("manta", "pita", "paq", "ykuna", "kuna", "chkan", "rqan", "nchu", "ykichik")

def _is_quechua(tok: str) -> bool:
    """A Quechua function word, or a long word with a Quechua suffix that is not Spanish."""
    return tok in _QU or (len(tok) > 6 and tok.endswith(_QU_SUFFIXES) and tok not in _ES)


def detect_language(text: str) -> str:
    """Return ``es``, ``en`` or ``qu`` for ``text`` from function words (Spanish on a tie).

    A lexicon beats a statistical identifier on two-to-ten-word messages (and langid's model
    takes seconds to load).
    """
    toks = words(text)
    if not toks:
        return "es"
    es = sum(t in _ES for t in toks)
    en = sum(t in _EN for t in toks)
    qu = sum(_is_quechua(t) for t in toks)
    if qu > max(es, en) or (qu >= 2 and qu >= es):
        return "qu"
    return "en" if en > es else "es"


def without_quechua(text: str) -> str:
    """``text`` without its Quechua words, for the knowledge-base search of a Quechua question:
    the entries are indexed in Spanish and English, and a Spanish loanword ("naloxona",
    "fentanilo") is what the search can match. The text itself when nothing else is left."""
    kept = [t for t in words(text) if not _is_quechua(t)]
    return " ".join(kept) if kept else text
