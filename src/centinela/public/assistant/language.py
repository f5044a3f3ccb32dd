"""Guess the language of a short message: Spanish, English or Quechua (Spanish by default),
and tell Portuguese apart (the crisis messages have a Portuguese text; the knowledge base does
not)."""

from __future__ import annotations

import re
from collections.abc import Callable

from centinela.lib.text import fold_keep_enye as fold
from centinela.public.text import words

LANGS = ("es", "en", "qu")
_ES = frozenset("""que de la el en y los las por para con una un es se no mi como donde cual
cuales hay puedo tengo esta del al lo le su si pero mas muy porque quiero hijo alguien
sobredosis receta farmacia ayuda denuncia consigo conseguir dond sirve tomar dejar puede
mis tu te yo ya q xq pq hace hacer sin tiene son pueden puedes podria estoy soy eso esto ese
esa le les nos ni tan igual mismo tambien cuando quien cuanto""".split())
_EN = frozenset("""the what is are how do does can i my you to of and in for with where why
should it this that someone overdose help pills please have who get take safe use there
when which your am was were been being an be at by from on or not no if so will would
could need want know tell call give find much many near nearest friend son daughter kid about
fentanyl patch patches safety tips common myths opioids painkillers naloxone withdrawal
addiction treatment dispose store kids children doctor pharmacy prescription""".split())
_QU = frozenset("""mana imataq imata ima maypi pitaq allin kani kanki kachkan yanapaway
wawqiy ñañay paniy turay wawa hampi hampita samanchu rikchanchu munani munanichu wañuyta
usqhay usqhayta kawsay kawsayta achkata upyarqan millpurqan mikhurqan qhali runa rimay
yachay haykataq imayna imaynata imaynatam imaynam imaynataq maypim maypitaq maypipas
haykapi haykapitaq pim pitaq imam imatam churani churay churana nisqa nisqata nisqamanta
nispa ruranay ruray rurana ruranki rurasaq ruranaypaq tiyan sichus kaptin kaptinqa tarikunman
tarisaq tariy tarini tarinki tarikun llaqta llaqtapi llaqtaypi kanman atinman imaynapi maypiraq ñuqa ñoqa noqa ñuqaq qam qampa manam manan arí ari kay chay hina huk iskay unquy
unquni nanay nanan nanawan hampikuq hampina sunqu wasi wasiy tayta taytay mama mamay
warmi qari wawaykuna yanapay yanapawanki atinichu atinki""".split())
_QU_SUFFIXES = ("manta", "pita", "paq", "ykuna", "kuna", "chkan", "rqan", "nchu", "ykichik",
                # the conditional and the future ("reqsiyman" I could recognise, "tarisaq" I
                # will find), the question marker and the subordinator ("-spa")
                "yman", "wanman", "nkuman", "saq", "taq", "spa", "sqa")
# Question words with their suffixes ("imaynatataq", "maypitaq", "pim", "haykaq").
_QU_QUESTION = re.compile(r"^(?:ima|imayna|imaynata|maypi|mayman|maymanta|pi|hayka|haykaq|"
                          r"imarayku|imanaqtin|imanaptin|imapaq)(?:taq|tataq|mi|m|n|ta|tam|qa|"
                          r"pas|raq|ri)?$")
# Case and possessive suffixes that Quechua puts on Spanish loanwords ("fentanilowan" = with
# fentanyl, "sobredosisniyuq" = having an overdose, "naloxonata" = naloxone as object),
# longest first. Stripped only when what is left is a word the knowledge base knows.
_LOAN_SUFFIXES = ("kunamanta", "kunawan", "kunata", "kunapaq", "kunaq", "niyuqmi", "niyuq",
                  "yuqmi", "manta", "mantam", "wanmi", "kuna", "yuq", "wan", "paq", "man",
                  "tam", "taq", "pim", "pi", "pa", "ta", "mi", "qa", "q", "m", "n")
# Quechua question words read as the Spanish cue they stand for, so that the question type
# ("qué hago", "dónde", "cómo") still counts in the search of a Quechua message.
_QU_CUES = (
    (re.compile(r"\bima(?:ta|tam|taq|tataq)? (?:rura\w*)"), "que hago"),
    (re.compile(r"\bmaypi\w*|\bmayman\w*"), "donde"),
    (re.compile(r"\bimayna\w*"), "como"),
    (re.compile(r"\b(?:imarayku|imanaqtin|imanaptin)\w*"), "por que"),
    (re.compile(r"\bimapaq\w*"), "para que sirve"),
    (re.compile(r"\bhaykaq\w*|\bhaykap\w*"), "cuando"),
    (re.compile(r"\bhayka\w*"), "cuanto"),
    (re.compile(r"\bpi(?:taq|m|n|mi)\b"), "quien"),
    (re.compile(r"\bima(?:taq|m|n|mi|qa)?\b"), "que es"),
    (re.compile(r"\btari(?:kunman|saq|y|ni|nki|kun|nay)\b"), "conseguir"),
)
# Common Quechua content words (by stem) read as the Spanish word the knowledge base is
# indexed with, so that "yanapayta" (help), "hampikuy" (treatment) or "unanchakuna" (signs)
# count in the search. Southern Quechua, written by the developers (not native speakers) and
# not reviewed by a native speaker; see docs/public.md.
_QU_GLOSSARY = (
    ("yanapa", "ayuda"), ("hampikuy", "tratamiento"), ("hampikun", "tratamiento"),
    ("hampikuq", "medico"), ("hampina", "centro de salud"), ("hampi", "medicamento"),
    ("unancha", "señales"), ("reqsi", "reconocer"), ("riqsi", "reconocer"),
    ("samay", "respirar"), ("saman", "respira"), ("wañuchi", "mata"), ("wanuchi", "mata"),
    ("wañu", "morir"), ("wanu", "morir"),
    ("saqi", "dejar"), ("drogaku", "consumo drogas"), ("waqya", "llamar"),
    ("rantiku", "vender"), ("ranti", "comprar"), ("wawa", "niño"), ("chichu", "embarazada"),
    ("nanay", "dolor"), ("nanan", "dolor"), ("qhali", "salud"),
)

_HELP_GLOSSES = frozenset({"ayuda", "tratamiento", "centro de salud", "medico"})


def _is_quechua(tok: str) -> bool:
    """A Quechua function or question word, or a long word with a Quechua suffix that is not
    Spanish."""
    return (tok in _QU or bool(_QU_QUESTION.match(tok))
            or (len(tok) > 6 and tok.endswith(_QU_SUFFIXES) and tok not in _ES))


def _gloss(tok: str) -> str | None:
    """The Spanish word for a common Quechua content word ("yanapayta" → "ayuda"), or None."""
    return next((es for stem, es in _QU_GLOSSARY if tok.startswith(stem)), None)


def detect_language(text: str) -> str:
    """Return ``es``, ``en`` or ``qu`` for ``text`` from function words (Spanish on a tie).

    A lexicon beats a statistical identifier on two-to-ten-word messages (and langid's model
    takes seconds to load).
    """
    toks = words(text)
    if not toks:
        return "es"
    # "¿" and "¡" are Spanish ("¿me pueden recetar fentanilo?" has no other function word)
    es = sum(t in _ES for t in toks) + ("¿" in text or "¡" in text)
    en = sum(t in _EN for t in toks)
    qu = sum(_is_quechua(t) for t in toks)
    if qu > max(es, en) or (qu >= 2 and qu >= es):
        return "qu"
    return "en" if en > es else "es"


def _loanword(tok: str, known: Callable[[str], bool]) -> str:
    """``tok`` without the Quechua suffix on a Spanish loanword ("naloxonata" → "naloxona")."""
    if known(tok):
        return tok
    for suf in _LOAN_SUFFIXES:
        base = tok[: -len(suf)]
        if tok.endswith(suf) and len(base) >= 5 and known(base):
            return base
    return tok


def without_quechua(text: str, known: Callable[[str], bool] | None = None) -> str:
    """``text`` without its Quechua words, for the knowledge-base search of a Quechua question:
    the entries are indexed in Spanish and English, and a Spanish loanword ("naloxona",
    "fentanilo") is what the search can match. Question words become their Spanish cue
    ("maypitaq" → "donde"), common content words their Spanish word ("yanapayta" → "ayuda");
    with ``known`` (is this word in the index?) a loanword loses its Quechua suffix
    ("fentanilowan" → "fentanilo"). The text itself when nothing else is left."""
    folded = fold(text)
    cues = []
    for rx, cue in _QU_CUES:
        if rx.search(folded):
            cues.append(cue)
            folded = rx.sub(" ", folded)
    kept = []
    for t in words(folded):
        gloss = _gloss(t)
        base = _loanword(t, known) if known is not None else t
        if gloss is not None:
            kept.append(gloss)
        elif base != t or not _is_quechua(t):
            kept.append(base)  # a Spanish loanword ("opioidekunapaq" → "opioide") or a word
    if "conseguir" in cues and _HELP_GLOSSES & set(kept):
        # "yanapayta tarisaq": help is looked for ("dónde busco ayuda"), naloxone is got
        cues[cues.index("conseguir")] = "busco"
    kept = cues + kept
    return " ".join(kept) if kept else text


# Portuguese: words that Spanish and English do not use ("não", "você", "muito", "quero").
_PT = frozenset("""nao voce voces estou eu meu minha meus minhas muito muita muitos muitas com
quero aguento aguentar morrer fazer faco tenho posso onde obrigado obrigada ele ela dele dela
isso isto pra entao tambem mais preciso ajuda ajudar uma um agora hoje alguem vou vai sei nem
ainda depois sim seu sua tomei usei adesivo adesivos sono sonolento sonolenta respirar
acordado acordada consigo roxos roxo ta to tô tá pela pelo viver vida""".split())
_PT_STRONG = frozenset("""nao voce estou eu meu minha muito muita quero aguento morrer faco
tenho posso preciso ajuda uma agora alguem vou sei ainda tomei usei adesivo acordado""".split())
_SHARED = frozenset("me to a".split())  # also Spanish or Portuguese: not English evidence


def is_portuguese(text: str) -> bool:
    """True when ``text`` reads as Portuguese: more Portuguese than Spanish or English words,
    with two distinctive Portuguese words, or one in a short message ("quero me matar")."""
    toks = words(text)
    pt = sum(t in _PT for t in toks)
    strong = sum(t in _PT_STRONG for t in toks)
    es = sum(t in _ES for t in toks)
    en = sum(t in _EN and t not in _SHARED for t in toks)
    return strong >= 1 and pt > es and pt > en and (strong >= 2 or len(toks) <= 6)
