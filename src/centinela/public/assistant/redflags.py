"""Red flags first: overdose signs, suicidal thoughts, emergencies and child exposure, found
before any answer by a lexicon of Spanish, English and Quechua cues with typo tolerance.

A rule is a list of groups; it fires when every group has one alternative in the message.
Alternatives: ``word`` (typo-tolerant), ``pref*`` (prefix), or a phrase of such tokens in order
(one extra word may sit between them). Informational questions ("¿cuáles son los signos de
una sobredosis?") are not red flags; a described situation is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from centinela.public.text import fuzzy_equal, words

CATEGORIES = ("child", "suicide", "overdose", "emergency")

URGENT = ["urgente", "ahora", "ahorita", "rapido", "now", "urgent", "please", "porfavor",
          "por favor", "yanapaway", "usqhay*", "socorro", "ya mismo"]
MY_PERSON = ["mi", "my", "mis", "nuestro", "our", "ñañay*", "wawqiy*", "paniy*", "turay*"]
PERSON = ["amigo*", "amiga*", "herman*", "primo*", "prima", "novi*", "espos*", "pareja", "papa",
          "mama", "padre", "madre", "tio", "tia", "abuel*", "vecino*", "friend*", "brother",
          "sister", "cousin", "boyfriend", "girlfriend", "husband", "wife", "partner", "dad",
          "mom", "mum", "roommate", "son", "daughter", "hijo*", "hija*", "compañer*", "someone",
          "alguien", "hombre", "mujer", "man", "woman", "guy", "chico", "chica"]
CHILD = ["hijo*", "hija*", "hijito*", "hijita*", "niño*", "niña*", "nino*", "nina*", "nene*",
         "nena*", "bebe*", "bebito*", "wawa*", "guagua*", "nieto*", "nieta*", "kid*", "child*",
         "toddler*", "baby", "babies", "infant*", "chiquit*", "menor*", "son", "daughter",
         "sobrin*", "nephew", "niece", "grandchild*", "grandson", "granddaughter"]
MEDICINE = ["pastilla*", "parche*", "pill*", "patch*", "tableta*", "medicin*", "medicament*",
            "jarabe*", "syrup", "tramadol", "morfina", "morphine", "fentan*", "opioid*", "codein*",
            "oxicodona", "oxycodon*", "oxy", "metadona", "methadone", "hampi*", "droga*", "drug*",
            "ampolla*", "polvo", "powder"]
INGEST = ["trago", "tragó", "swallow*", "comio", "se comio", "ate", "eaten", "mastico", "chew*",
          "chupo", "lamio", "lick*", "boca", "mouth", "metio", "tomo", "bebio", "ingirio",
          "took", "drank", "pego", "se pego", "stuck", "encontre", "found", "got into",
          "millpu*", "mikhu*", "upya*"]

RULES: dict[str, list[list[list[str]]]] = {
    "child": [[CHILD, MEDICINE, INGEST]],
    "suicide": [
        [["suicid*", "suisid*", "matarme", "kill myself", "killing myself",
          "quitarme la vida", "quitarse la vida", "end my life", "ending my life", "end it all",
          "acabar con todo", "acabar con mi vida", "better off dead", "hurt myself",
          "hacerme daño", "hacerme dano", "cortarme", "wañuyta", "wañukuyta", "wanuyta",
          "desaparecer para siempre", "no despertar nunca", "no despertar mas"]],
        [["quiero", "kiero", "quisiera", "ganas", "want", "wanna"],
         ["morir", "morirme", "muerto", "muerta", "die", "dead"]],
        [["no quiero", "ya no quiero", "dont want", "don't want", "do not want", "no kiero"],
         ["vivir", "live", "living", "seguir viviendo"]],
        [["sentido"], ["vivir", "vida"]],
        [["on purpose", "a proposito", "apropósito", "a propósito"],
         ["sobredosis", "overdos*", "pastilla*", "pills"]],
        [["todas", "all"], ["mis pastillas", "my pills", "las pastillas"],
         ["acabar", "end", "morir", "die"]],
        [["kawsayta"], ["mana munanichu", "munanichu"]],
        [["quiero", "kiero", "voy a", "want", "going", "gonna"],
         ["hacer daño", "hacerme daño", "hacer dano", "lastimarme", "hurt myself", "harm myself",
          "cortarme", "cut myself"]],
    ],
    "overdose": [
        [["no respira", "no esta respirando", "no está respirando", "deja de respirar",
          "dejo de respirar", "dejó de respirar", "respira muy lento", "respira lento",
          "respirando muy lento", "respirando lento", "apenas respira", "not breathing",
          "isnt breathing", "isn't breathing", "stopped breathing", "barely breathing",
          "mana samanchu", "mana samachkanchu"]],
        [["no despierta", "no se despierta", "no reacciona", "no responde", "no se mueve",
          "wont wake", "won't wake", "will not wake", "cant wake", "can't wake",
          "not waking", "not responding", "unresponsive", "mana rikchanchu",
          "mana rikcharinchu", "mana kuyurinchu"]],
        [["inconsc*", "inconsien*", "inconcien*", "unconscious", "desmay*", "desvaneci*",
          "passed out", "collapsed", "sin sentido"]],
        [["labios", "lips", "uñas", "unas", "nails", "cara", "face", "se puso", "esta",
          "está", "turning", "is", "se esta poniendo"],
         ["morado*", "azul*", "blue", "purple", "gris", "grey", "gray"]],
        [["se esta ahogando", "se está ahogando", "ahogando", "choking", "ronca raro",
          "gorgote*", "gurgling"]],
        [["sobredosis", "overdos*", "od", "intoxicad*", "intoxicacion"],
         URGENT + MY_PERSON + ["creo", "think", "tuvo", "esta teniendo", "having", "ayuda",
                               "auxilio", "help"]],
        [["tomo", "tomó", "took", "se metio", "se metió", "consumio", "upyarqan"],
         ["muchas", "demasiad*", "too many", "too much", "achkata", "todo el", "todas las"]],
        [["pupilas", "pupils"], ["no despierta", "no responde", "wont wake", "puntitos"]],
        [MY_PERSON, PERSON, ["se metio", "se metió", "inyect*", "consumio"],
         ["no reacciona", "no responde", "mal", "raro"]],
    ],
    "emergency": [
        [["emergencia", "emerjencia", "emergency", "emergensia"],
         URGENT + ["necesito", "need", "llamen", "call", "hay", "there"]],
        [["necesito", "need", "llamen", "call", "manden", "send"],
         ["ambulancia", "ambulance", "samu", "policia", "police"]],
        [["convuls*", "seizure*", "seizing", "ataque epilept*"]],
        [["auxilio", "socorro", "yanapaway", "se esta muriendo", "se está muriendo",
          "is dying", "someone is dying", "wañupuchkan"]],
        [["urgente", "urgent", "usqhay*", "usqhaylla"], ["ayuda", "help", "yanapa*"]],
        [["amenaz*", "threaten*"], ["arma", "pistola", "cuchillo", "weapon", "gun", "knife",
                                    "matar", "kill"]],
        [["tirado", "lying"], ["suelo", "piso", "calle", "floor", "ground", "street"]],
    ],
}


@dataclass(frozen=True)
class RedFlag:
    category: str
    cue: str


@lru_cache(maxsize=200_000)
def _token_match(tok: str, pat: str) -> bool:
    if pat.endswith("*"):
        pre = pat[:-1]
        if tok.startswith(pre):
            return True
        return len(pre) >= 6 and len(tok) >= len(pre) and fuzzy_equal(tok[: len(pre)], pre)
    if tok == pat:
        return True
    # Typos only on longer words, and a plural or infinitive is another word, not a typo
    # ("auxilios" in "primeros auxilios", "ayudar" in "cómo ayudar").
    if len(pat) < 6 or tok in (pat + "s", pat + "es", pat + "r"):
        return False
    return fuzzy_equal(tok, pat)


@lru_cache(maxsize=4096)
def _split(alt: str) -> tuple[str, ...]:
    """Fold an alternative into tokens, keeping a trailing ``*`` on prefix tokens."""
    return tuple(w + ("*" if raw.endswith("*") else "")
                 for raw in alt.split() for w in words(raw.rstrip("*"))[:1])


def _alt_match(toks: list[str], alt: str) -> bool:
    parts = _split(alt)
    if not parts:
        return False
    for start, tok in enumerate(toks):
        if not _token_match(tok, parts[0]):
            continue
        pos, ok = start, True
        for part in parts[1:]:
            # the next part must follow within two tokens (one extra word allowed)
            nxt = next((j for j in range(pos + 1, min(pos + 3, len(toks)))
                        if _token_match(toks[j], part)), None)
            if nxt is None:
                ok = False
                break
            pos = nxt
        if ok:
            return True
    return False


def detect(message: str) -> RedFlag | None:
    """Return the first red flag in ``message`` (child, suicide, overdose, emergency) or None."""
    toks = words(message)
    if not toks:
        return None
    for category in CATEGORIES:
        for rule in RULES[category]:
            cues = []
            for group in rule:
                hit = next((alt for alt in group if _alt_match(toks, alt)), None)
                if hit is None:
                    break
                cues.append(hit)
            else:
                return RedFlag(category, " + ".join(cues))
    return None
