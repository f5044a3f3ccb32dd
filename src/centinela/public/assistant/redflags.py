"""Red flags first: overdose signs, suicidal thoughts, emergencies and child exposure, found
before any answer by a lexicon of Spanish, English and Quechua cues with typo tolerance.

A rule is a list of groups; it fires when every group has one alternative in the message.
Alternatives: ``word`` (typo-tolerant), ``pref*`` (prefix), or a phrase of such tokens in order
(one extra word may sit between them). Informational questions ("¿cuáles son los signos de
una sobredosis?") are not red flags; a described situation is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from centinela.lib.text import fold_keep_enye as fold
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
PET = ["perro*", "perrit*", "gato*", "gatit*", "mascota*", "cachorr*", "dog", "dogs", "doggy",
       "puppy", "cat", "cats", "kitten*", "pet", "pets", "allqu*", "misi*"]
MEDICINE = ["pastilla*", "parche*", "pill*", "patch*", "tableta*", "medicin*", "medicament*",
            "jarabe*", "syrup", "tramadol", "morfina", "morphine", "fentan*", "opioid*", "codein*",
            "oxicodona", "oxycodon*", "oxy", "metadona", "methadone", "hampi*", "droga*", "drug*",
            "ampolla*", "polvo", "powder", "remedio*", "comprimido*", "adesivo*", "percocet*",
            "vicodin", "hydrocodon*", "hidrocodon*", "buprenorf*", "heroin*", "heroina", "narcotic*"]
# Very sleepy, cannot stay awake: with an opioid in the message, an overdose in progress
# (said by the person themself or about someone else).
SLEEPY = ["super sleepy", "very sleepy", "really sleepy", "so sleepy", "extremely sleepy",
          "too sleepy", "very drowsy", "so drowsy", "really drowsy", "super drowsy",
          "extremely drowsy", "cant stay awake", "can't stay awake", "cannot stay awake",
          "can barely stay awake", "barely awake", "hard to stay awake", "nodding off",
          "keep passing out", "keeps passing out", "mucho sueño", "mucho sueno",
          "demasiado sueño", "demasiado sueno", "muchisimo sueño", "muchisimo sueno",
          "muy dormido", "muy dormida", "muy somnolient*", "demasiado somnolient*",
          "no puedo mantenerme despiert*", "no me puedo mantener despiert*",
          "me cuesta mantenerme despiert*", "no se puede mantener despiert*",
          "me estoy quedando dormid*", "se esta quedando dormid*", "se me cierran los ojos",
          "no puedo abrir los ojos", "cabeceando", "muito sono", "muita sonolencia",
          "muito sonolent*", "nao consigo ficar acordad*", "nao consegue ficar acordad*",
          "nao consigo manter os olhos abertos", "sinchi puñuy*", "ancha puñuy*"]
# Slow or difficult breathing said in the first person (someone else's is an overdose rule).
BREATH_SELF = ["respiro lento", "respiro muy lento", "respiro despacio", "me cuesta respirar",
               "no puedo respirar", "casi no puedo respirar", "casi no respiro",
               "breathing slow", "breathing is slow", "breathing slowly", "breathing very slow",
               "cant breathe", "can't breathe", "cannot breathe", "hard to breathe",
               "trouble breathing", "struggling to breathe", "respirando devagar",
               "respirando muito devagar", "nao consigo respirar", "falta de ar",
               "mana samayta atinichu", "samayta mana atinichu"]
# More than prescribed or by mistake: an extra patch, a double dose.
EXTRA_DOSE = ["dos parches", "2 parches", "tres parches", "un parche mas", "parche de mas",
              "two patches", "2 patches", "three patches", "extra patch",
              "dois adesivos", "outro adesivo", "doble dosis", "double dose", "dose dupla",
              "tome de mas", "tomé de más", "me tome de mas", "me tomé de más", "tome doble",
              "took extra", "took more than", "took double", "tomei demais", "tomei a mais",
              "por error", "por equivocacion", "by mistake", "accidentally", "por engano"]
UNWELL = ["sleepy", "drowsy", "dizzy", "mareado", "mareada", "mareo*", "sueño", "sueno",
          "somnolient*", "dormido", "dormida", "confundid*", "confused", "nause*", "vomit*",
          "siento mal", "siento raro", "siento rara", "feel weird", "feel sick", "feel strange",
          "feel bad", "unwell", "sono", "tontura", "enjoo", "sonolent*", "sinto mal"]
# Taking every pill one has at once: a plan, whatever words come with it.
ALL_MINE = ["all my", "all of my", "todas mis", "todos mis", "todo mi", "toda mi",
            "todas las que tengo", "todo lo que tengo", "todos os meus", "todas as minhas",
            "todos meus", "todas minhas"]
AT_ONCE = ["at once", "all at once", "at the same time", "de una vez", "de un golpe", "de golpe",
           "juntas", "juntos", "together", "de uma vez", "de uma so vez", "al mismo tiempo",
           "ao mesmo tempo", "tonight", "esta noche", "hoje a noite"]
HOPELESS = ["no vale la pena", "no tiene sentido", "sin sentido", "para que seguir",
            "para que sigo", "no le encuentro sentido", "no le veo sentido",
            "ya no le veo sentido", "not worth", "no point", "dont see the point",
            "don't see the point", "do not see the point", "whats the point", "what's the point",
            "no reason to live", "nao vejo sentido", "nao faz sentido", "sem sentido",
            "nao vale a pena", "cant take it anymore", "can't take it anymore",
            "give up on life", "hopeless", "sin esperanza", "sem esperanca"]
HOPELESS_PLAN = [h for h in HOPELESS if h != "sin sentido"]  # "sin sentido" is unconscious too
TAKE_ALL = ["taking all", "take all", "swallow all", "swallowing all", "tomar todas",
            "tomarme todas", "tomar todo", "tomarme todo", "tomar todos", "tragarme todas",
            "tragarme todo", "engolir todos", "engolir todas", "tomar tudo", "tomar todos os",
            "tomar todas as", "overdos*", "sobredosis"]
INGEST = ["trago", "tragó", "swallow*", "comio", "se comio", "ate", "eaten", "mastico", "chew*",
          "chupo", "lamio", "lick*", "boca", "mouth", "metio", "tomo", "bebio", "ingirio",
          "took", "drank", "pego", "se pego", "stuck", "got into", "encontre a", "found my",
          "found him", "found her", "comieron", "se comieron", "tragaron", "tomaron",
          "chuparon", "lamieron", "masticaron", "bebieron", "ingirieron",
          "millpu*", "mikhu*", "upya*"]

RULES: dict[str, list[list[list[str]]]] = {
    "child": [[CHILD, MEDICINE, INGEST]],
    "suicide": [
        [["suicid*", "suisid*", "matarme", "kill myself", "killing myself",
          "quitarme la vida", "quitarse la vida", "end my life", "ending my life", "end it all",
          "acabar con todo", "acabar con mi vida", "better off dead", "hurt myself",
          "hacerme daño", "hacerme dano", "cortarme", "wañuyta", "wañukuyta", "wanuyta",
          "desaparecer para siempre", "no despertar nunca", "no despertar mas"]],
        [["quiero", "kiero", "quisiera", "ganas", "want", "wanna", "quero", "queria"],
         ["morir", "morirme", "muerto", "muerta", "die", "dead", "morrer", "morta", "morto"]],
        # Hopelessness with a way to do it (the pills at hand), or every pill at once.
        [HOPELESS_PLAN, TAKE_ALL],
        [ALL_MINE, MEDICINE, AT_ONCE],
        [["no quiero", "ya no quiero", "dont want", "don't want", "do not want", "no kiero"],
         ["vivir", "live", "living", "seguir viviendo"]],
        [["sentido"], ["vivir", "vida"]],
        [["on purpose", "a proposito", "apropósito", "a propósito"],
         ["sobredosis", "overdos*", "pastilla*", "pills"]],
        [["todas", "all"], ["mis pastillas", "my pills", "las pastillas"],
         ["acabar", "end", "morir", "die"]],
        [["kawsayta"], ["mana munanichu", "munanichu"]],
        # Indirect ideation: how people in crisis write it (no "suicide" word at all).
        [HOPELESS,
         ["vivir", "viviendo", "vida", "seguir", "existir", "living", "life", "go on",
          "anymore", "viver", "vivendo", "continuar", "existir"]],
        [["no quiero seguir", "ya no quiero seguir", "no puedo seguir", "no quiero continuar"],
         ["vivir", "viviendo", "asi", "con vida", "existiendo", "en este mundo", "aqui",
          "respirando", "living", "alive"]],
        [["tirarme", "lanzarme", "aventarme", "arrojarme", "jump off", "jump from"],
         ["puente", "edificio", "tren", "rio", "azotea", "ventana", "barranco", "precipicio",
          "acantilado", "bridge", "building", "roof", "train", "cliff"]],
        [["no quiero despertar",
          "no quisiera despertar", "quiero dormir para siempre", "dormir y no despertar",
          "quiero desaparecer", "quisiera desaparecer", "desaparecer de este mundo",
          "irme de este mundo", "irme para siempre", "me quiero ir para siempre",
          "estarian mejor sin mi", "estarán mejor sin mí", "mejor sin mi", "better off without me",
          "soy una carga", "i am a burden", "im a burden", "carta de despedida",
          "despedirme de todos", "me despido de todos", "goodbye letter", "suicide note",
          "mejor muerto", "mejor muerta", "mejor me muero", "ojala me muera", "ojalá me muera",
          "ojala no despertar", "ojala no despierte", "wish i was dead", "wish i were dead",
          "want to disappear", "dont want to wake up", "don't want to wake up",
          "no want to be here", "dont want to be here", "don't want to be here",
          "ya no quiero estar aqui", "ya no quiero estar aquí", "no quiero estar aqui",
          "no quiero existir", "dejar de existir", "darme de baja", "ahorcarme", "colgarme", "cortarme las venas",
          "me voy a matar", "voy a matarme", "pegarme un tiro",
          "no quiero vivir", "no kiero vivir", "ya no kiero vivir", "cansado de vivir",
          "cansada de vivir", "harto de vivir", "harta de vivir", "tired of living",
          "sick of living", "wañukuyta munani", "wañuyta munaniña",
          "manaña kawsayta munanichu", "kawsayta munanichu", "wañuchikusaq",
          "wañuchikuyta munani", "wañukapusaq", "kawsayniyta tukuchisaq",
          "manaña atiniñachu kawsayta",
          # Portuguese
          "quero me matar", "vou me matar", "vou me suicidar", "nao quero mais viver",
          "nao quero viver", "acabar com tudo", "acabar com a minha vida", "tirar a minha vida",
          "tirar minha vida", "melhor morto", "melhor morta", "quero sumir", "queria sumir",
          "cansado de viver", "cansada de viver", "nao quero acordar", "me machucar"]],
        [["me voy a tomar", "voy a tomarme", "me tomare", "me tomaré", "tomarme", "tragarme",
          "me trago", "me tomo", "i will take", "im going to take", "i'm going to take",
          "gonna take", "voy a tomar"],
         ["todo lo que tengo", "todas las pastillas", "todas mis pastillas", "toda la caja",
          "todo el frasco", "el frasco entero", "la caja entera", "todo el blister",
          "all my pills", "all the pills", "the whole bottle", "everything i have",
          "todas las que tengo", "todo el veneno", "veneno", "raticida", "poison"]],
        [["no aguanto", "ya no aguanto", "no puedo mas", "no puedo más", "no soporto",
          "cant take it", "can't take it", "cant do this", "can't do this", "ya no doy mas",
          "ya no doy más", "manaña atinichu", "nao aguento", "nao suporto"],
         ["esta noche", "tonight", "me voy a", "voy a", "ya fue", "todo", "vivir", "vida",
          "terminar", "acabar", "morir", "end", "anymore", "nadie", "me quiero", "viver",
          "morrer", "hoje", "tudo", "ninguem"]],
        [["quiero", "kiero", "voy a", "want", "going", "gonna"],
         ["hacer daño", "hacerme daño", "hacer dano", "lastimarme", "hurt myself", "harm myself",
          "cortarme", "cut myself"]],
        [["me corto", "me cortare", "me estoy cortando", "me lastimo", "me hago daño",
          "me hago dano", "cutting myself", "i cut myself", "i hurt myself"],
         ["brazo*", "piel", "muñeca*", "muneca*", "venas", "pierna*", "para no sentir",
          "para aguantar", "a proposito", "navaja", "cuchillo", "hoja", "arm*", "wrist*",
          "skin", "on purpose", "again", "otra vez", "todos los dias", "every day"]],
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
          "passed out", "collapsed", "colaps*", "sin sentido"]],
        [["labios", "lips", "uñas", "unas", "nails", "cara", "face", "se puso", "esta",
          "está", "turning", "is", "se esta poniendo"],
         ["morado*", "azul*", "blue", "purple", "gris*", "grey", "gray", "roxo*", "roxa*"]],
        [["se esta ahogando", "se está ahogando", "ahogando", "choking", "ronca raro",
          "gorgote*", "gurgling"]],
        [["sobredosis", "overdos*", "od", "intoxicad*", "intoxicacion"],
         URGENT + MY_PERSON + ["creo", "think", "tuvo", "esta teniendo", "having", "ayuda",
                               "auxilio", "help"]],
        [["tomo", "tomó", "took", "se metio", "se metió", "consumio", "upyarqan"],
         ["muchas", "demasiad*", "too many", "too much", "achkata", "todo el", "todas las",
          "muchisim*", "un monton", "bastantes", "un puñado", "un puno", "a lot", "a bunch"]],
        [["pupilas", "pupils"], ["no despierta", "no responde", "wont wake", "puntitos"]],
        # Very sleepy or breathing slowly after an opioid, said by the person or of someone.
        [SLEEPY, MEDICINE],
        [BREATH_SELF, MEDICINE],
        [EXTRA_DOSE, UNWELL, MEDICINE],
        [["nao respira", "nao esta respirando", "parou de respirar", "nao acorda",
          "nao reage", "nao responde", "desmaiou", "desmaiad*"],
         URGENT + MY_PERSON + ["meu", "minha", "ajuda", "socorro", "acho", "amigo", "amiga"]],
        [MY_PERSON, PERSON, ["se metio", "se metió", "inyect*", "consumio"],
         ["no reacciona", "no responde", "mal", "raro"]],
    ],
    "emergency": [
        [["emergencia", "emerjencia", "emergency", "emergensia"],
         URGENT + ["necesito", "need", "llamen", "call", "hay", "there"]],
        [["necesito", "need", "llamen", "call", "manden", "send"],
         ["ambulancia", "ambulance", "samu", "policia", "police"]],
        [["convuls*", "seizure*", "seizing", "ataque epilept*"]],
        [BREATH_SELF],
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


# Figures of speech that use crisis words ("me muero de risa", "el celular está muerto"):
# dropped before matching, so they cannot complete a rule.
_IDIOMS = re.compile(
    r"\b(?:(?:me )?(?:quiero|voy a|va a|vas a|estoy) )?(?:me )?(?:muero|muriendo|morir|morirme|muerto|muerta|mato|matan|matas|mata)\s+"
    r"(?:de|del)\s+(?:la\s+)?(?:risa|hambre|sed|verguenza|sueno|calor|frio|amor|"
    r"aburrimiento|ganas|pena|curiosidad|cansancio|envidia|nervios|miedo|susto|cólera|colera)\b"
    r"|\b(?:bateria|celular|telefono|cel|pila|laptop|compu|computadora|batería|teléfono|"
    r"phone|battery)\s+(?:esta\s+|está\s+|is\s+)?(?:muerto|muerta|dead)\b"
    r"|\bdying to\b|\bkilling it\b|\bme mata(?:n)? (?:el|la|los|las|este|esta) "
    r"(?:trabajo|tarea|examen|examenes|trafico|calor|jefe|profe)\b")


IDIOMS = _IDIOMS  # also taken out of a question before a second knowledge-base search

_THIRD = frozenset("he she him her his they them their ele ela dele dela pay payqa".split())
# Peruvian slang for a friend, partner or relative ("mi pata", "el causa", "mi jerma"): a person
# when a possessive, an article or a demonstrative comes before it ("la pata" of a table is not).
_SLANG_PERSON = re.compile(
    r"\b(?:mi|mis|tu|su|el|la|un|una|al|del|este|ese|esta|esa|my|our|nuestr[oa])\s+"
    r"(?:pata|patita|patas|causa|causita|pana|compa|cumpa|compadre|comadre|yunta|jerma|"
    r"flac[oa]|viej[oa]|brother|bro|broder|choche|chochera|cunad[oa]|cuñad[oa]|suegr[oa]|"
    r"roomie|bf|gf|homie|buddy|mate|pal|bestie)\b")
# The writer acting on someone else: "le" (always a person) with a first-person verb or on an
# infinitive ("¿le echo agua?", "¿echarle agua?"), or "lo/la" with a verb done to a body ("lo
# meto a la ducha", "despertarla"); not "¿lo saco?", "¿quitarlo?", which may be the patch.
_BODY_VERBS = (r"(?:meto|bano|baño|mojo|ducho|despierto|acuesto|volteo|muevo|cargo|sacudo|"
               r"levanto|cacheteo)")
_ACTS_ON_OTHER = re.compile(
    r"\bles?\s+\w+o\b|\b\w{2,}(?:ar|er|ir)les?\b|"
    rf"\b(?:lo|la|los|las)\s+{_BODY_VERBS}\b|"
    r"\b(?:meter|banar|bañar|mojar|duchar|despertar|acostar|voltear|mover|cargar|sacudir|"
    r"levantar|cachetear)(?:lo|la|los|las)\b|"
    r"\b(?:should|do|can|must) (?:i|we) \w+ (?:him|her|them)\b")
# "mi hermano no respira" names a person; "mi respiración está lenta" is the writer's own body.
_MY_SOMETHING = re.compile(r"\b(?:mi|my)\s+(\w+)\s+(?:esta|estan|no|se|tiene|is|isnt|has|"
                           r"wont|cant|looks|turned|started|keeps)\b")
_OWN_BODY = frozenset("""respiracion cuerpo corazon pecho cabeza piel boca labios cara pulso
vista garganta estomago panza lengua mano manos pierna piernas brazo brazos ojos unas uñas
presion breathing body heart chest head skin mouth lips face pulse vision throat stomach tongue
hand hands leg legs arm arms eyes nails pressure parche patch dosis dose pastilla pill
medicina medicine medicamento medicamentos tratamiento receta dolor sueno sueño mente vida
ansiedad treatment medication meds prescription pain sleep mind life anxiety celular phone
""".split())
# Quechua: a person noun with the possessive -y ("masiy" my friend, "churiy" my son).
_QU_MY_PERSON = ("masiy", "amigoy", "churiy", "ususiy", "qusay", "warmiy", "mamay", "taytay",
                 "ñañay", "wawqiy", "paniy", "turay")


def speaks_of_other(message: str) -> bool:
    """True when ``message`` is about someone else than the writer ("mi pata está con los
    labios morados, ¿le echo agua?", "my friend won't wake up"): the answer speaks to the helper.
    """
    raw = message.lower()
    folded = fold(message)
    toks = words(folded)
    if re.search(r"\b(?:él|ella|ellas|ellos)\b", raw) or any(t in _THIRD for t in toks):
        return True
    if any(t.startswith(_QU_MY_PERSON) for t in toks):
        return True
    if _SLANG_PERSON.search(folded) or _ACTS_ON_OTHER.search(folded):
        return True
    if any(m.group(1) not in _OWN_BODY for m in _MY_SOMETHING.finditer(folded)):
        return True
    return any(_alt_match(toks, p) for p in PERSON + CHILD)


def speaks_of_self(message: str) -> bool:
    """True when the writer describes themself ("I feel super sleepy", "tô com muito sono")
    and names no one else."""
    toks = words(fold(message))
    return ((any(t in _SELF or t.endswith(_QU_FIRST_PERSON) for t in toks)
             or _alt_match(toks, "to com"))
            and not speaks_of_other(message))


# Remedies people try on someone who overdosed (cold water, a shower, salt, milk, making them
# vomit): they do not work and can make the person choke. Asked about, the answer says so first.
_REMEDY = re.compile(
    r"\b(agua|ducha\w*|duchar\w*|bañ\w+|ban(?:o|ar|arlo|arla|arle)|tina|hielo|sal|"
    r"leche|cafe|limon|vinagre|vomit\w*|cachetad\w*|bofetad\w*|water|shower|ice|bath|"
    r"salt|milk|coffee|throw up|slap\w*|yaku\w*|aqtu\w*)\b")


def asks_about_remedy(message: str) -> bool:
    """True when ``message`` asks about a home remedy for an overdose ("¿le echo agua?")."""
    return bool(_REMEDY.search(fold(message)))


def mentions_patch(message: str) -> bool:
    """True when ``message`` names a (fentanyl) patch."""
    toks = words(fold(message))
    return any(_alt_match(toks, p) for p in ("parche*", "patch*", "adesivo*"))


def detect(message: str) -> RedFlag | None:
    """Return the first red flag in ``message`` (child, suicide, overdose, emergency) or None.
    A pet that ate a medicine is not a person's crisis (:func:`pet_exposure`): no flag, and the
    text model is not asked (it read "mi perro se comió un parche" as a child).

    The lexicon runs first; when it finds nothing, a small text model trained on shipped
    phrases (:mod:`centinela.public.assistant.crisis_model`) catches other wordings.
    """
    found = detect_lexicon(message)
    if found is not None:
        return found
    if pet_exposure(message):
        return None
    from centinela.public.assistant.crisis_model import predict

    literal = _IDIOMS.sub(" ", fold(message)).strip()  # figures of speech are not crises
    found_by_model = predict(literal) if literal else None
    return RedFlag(*found_by_model) if found_by_model else None


# A topic word alone ("suicidio", "sobredosis") is a red flag only when the message speaks of
# a person now, not of the subject ("prevención del suicidio", "mi tío murió de sobredosis
# hace años").
_TOPIC_CUES = frozenset({"suicid*", "suisid*", "sobredosis", "overdos*", "od", "intoxicad*",
                         "intoxicacion"})
_FIRST_PERSON = frozenset("""me mi mis yo quiero kiero pienso estoy voy tengo siento i im my
myself suicidarme suisidarme matarme""".split())
_ABOUT_TOPIC = frozenset("""prevencion prevenir prevent preventing senales señales signos sintomas
signs symptoms alguien someone somebody pelicula movie noticia news libro book estadisticas
statistics tasa rate ayudar murio fallecio murieron died hace ago pasado caso casos colegio
escuela school""".split())


_OBJECTS = ("jering", "aguja", "ampoll", "syring", "needl", "parche", "pastill", "basura",
            "bolsa", "envase", "frasco", "caja", "papel")
_SOMEONE = frozenset("""alguien persona senor señor senora señora hombre mujer joven chico chica
muchacho muchacha nino niño someone man woman guy person body cuerpo""".split())


# Someone is named (the writer or another person): "tengo mucho sueño", "mi mamá está muy
# dormida". Without anyone, "¿el tramadol da mucho sueño?" asks about a side effect.
_SELF = frozenset("""me mi mis yo estoy tengo siento i im my me myself feel eu estou meu
minha sinto tomei usei""".split())
# Quechua verbs in the first person ("upyarqani" I drank, "atinichu" I cannot).
_QU_FIRST_PERSON = ("rqani", "chkani", "nichu", "ykuni", "kuni")
# "¿Puedo tomar todas mis pastillas juntas?" asks how to take them; no plan is said.
_MODAL = re.compile(r"^(?:puedo|se pueden?|debo|es malo|es peligroso|can i|should i|is it "
                    r"(?:ok|safe|bad)|do i|posso|devo)\b")


def _about_the_topic(toks: list[str], cue: str) -> bool:
    first = cue.split(" + ")[0]
    if first in SLEEPY or first in BREATH_SELF:
        quechua_self = any(t.endswith(_QU_FIRST_PERSON) for t in toks)
        return not quechua_self and not any(t in _SELF for t in toks) and not any(
            _alt_match(toks, p) for p in PERSON + MY_PERSON + ["to com", "ta com"])
    if first in ALL_MINE:
        return bool(_MODAL.match(" ".join(toks))) and not any(
            _alt_match(toks, h) for h in HOPELESS)
    if first in ("tirado", "lying"):
        # "una jeringa tirada en la calle" is litter to report, not a person down.
        return (any(t.startswith(_OBJECTS) for t in toks)
                and not any(t in _SOMEONE or t in PERSON for t in toks))
    if first not in _TOPIC_CUES:
        return False
    topic = any(t in _ABOUT_TOPIC for t in toks)
    if first.startswith(("suicid", "suisid")):
        return topic and not any(t in _FIRST_PERSON for t in toks)
    return topic and not any(_alt_match(toks, u) for u in URGENT)


def pet_exposure(message: str) -> bool:
    """True when ``message`` says a pet (and no child) swallowed, chewed or licked a medicine."""
    toks = words(fold(message))
    return (all(any(_alt_match(toks, alt) for alt in group) for group in (PET, MEDICINE, INGEST))
            and not any(_alt_match(toks, alt) for alt in CHILD))


def detect_lexicon(message: str) -> RedFlag | None:
    """The lexicon alone (rules of cue groups); None when no rule fires."""
    toks = words(_IDIOMS.sub(" ", fold(message)))
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
                cue = " + ".join(cues)
                if not _about_the_topic(toks, cue):
                    return RedFlag(category, cue)
    return None
