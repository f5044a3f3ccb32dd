"""Find Peruvian places (INEI districts, provinces, departments) in free text.

Matching is accent-insensitive and tolerant to misspelling (difflib ratio ≥ 0.88 on names of
six letters or more). District names that are also everyday words ("Comas", "Ate", "Unión")
count only after a place cue ("en", "delivery", "zona", …) or beside another place. When a name
exists in several departments, a department named in the same text wins, then population.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from centinela.lib.text import fold
from centinela.reference.ubigeo import departments, districts

ALIASES = {  # common abbreviations in Lima posts
    "sjl": "150132", "smp": "150135", "ves": "150142", "vmt": "150143", "sjm": "150133",
    "cercado de lima": "150101", "cercado": "150101", "lima centro": "150101",
    "piura centro": "200101", "arequipa centro": "040101",
}
COMMON_WORDS = frozenset({
    "ate", "comas", "mala", "salas", "union", "la union", "progreso", "el progreso",
    "independencia", "libertad", "la libertad", "paz", "la paz", "jesus", "santa rosa", "san juan",
    "pueblo nuevo", "colca", "santa", "rica", "huaca", "pampas", "lagunas", "quince", "hoja",
    "calzada", "chavin", "bellavista", "florida", "la florida", "alto", "palca", "molino",
    "yauca", "nuevo progreso", "puerto", "vista alegre", "llama", "sol", "masa", "cochas",
    "victoria", "la victoria", "providencia", "esperanza", "la esperanza", "soledad", "corral",
    "tres unidos", "cristo nos valga", "pacucha", "marca", "parco", "yura", "paras", "pilpichaca",
    "amistad", "nueva", "las lomas", "lomas", "mercedes", "miraflores", "caja", "hongos",
    "ayo", "cruz", "pampa", "rio", "leon", "mesa", "pisco", "ilo", "oro", "chala",
})
CUES = frozenset({"en", "de", "desde", "delivery", "zona", "distrito", "provincia", "entrego",
                  "entregas", "envios", "envio", "a", "por", "para", "recojo", "cerca"})
_WORDS = re.compile(r"[a-zñ\x01]+")
_ENYE = "\x01"  # an ñ kept through folding: "puño" must not be read as Puno
# Place names that are also verbs or adjectives in chat ("llama al 9…", "me quedé callao al
# verlo"): read as places only when not followed by these words, or after a strong place cue.
VERB_LIKE = {
    "llama": ({"al", "a", "ya", "me", "nomas", "ahora", "pe", "pues", "o", "para", "y", "si",
               "hoy", "rapido", "toque"}, {"te", "me", "se", "le", "lo", "nos", "quien", "que",
                                            "si", "tu", "usted", "nadie", "no", "solo"}),
    "callao": ({"al", "nomas", "pe", "pues", "mejor", "nomás", "noma"},
               {"quede", "quedo", "quedate", "estate", "estas", "esta", "estoy", "bien", "todo",
                "tan", "muy", "mas", "se", "te", "me", "calladito"}),
}
STRONG_CUES = frozenset({"en", "zona", "distrito", "provincia", "desde", "lima", "y"})
_STOP = frozenset({"y", "o", "e", "u", "de", "del", "en", "la", "el", "los", "las", "a", "al", "x"})
MAX_TOKENS = 5


@dataclass(frozen=True)
class Place:
    """A place mentioned in text: the INEI name, its level and codes."""

    name: str
    level: str  # district, province, department
    ubigeo: str  # 6-digit district (capital district for provinces and departments)
    department: str  # 2-digit code
    matched: str  # the text as written (folded)
    fuzzy: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "level": self.level, "ubigeo": self.ubigeo,
                "department": self.department, "matched": self.matched, "fuzzy": self.fuzzy}


@dataclass(frozen=True)
class _Entry:
    name: str
    level: str
    ubigeo: str
    department: str
    population: int


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, list[_Entry]]:
    """Return folded name → candidate places (districts, provinces, departments)."""
    index: dict[str, list[_Entry]] = {}
    pop_prov: dict[str, int] = {}
    pop_dep: dict[str, int] = {}
    for d in districts().values():
        pop_prov[d.province_code] = pop_prov.get(d.province_code, 0) + d.population
        pop_dep[d.department_code] = pop_dep.get(d.department_code, 0) + d.population
        index.setdefault(fold(d.district), []).append(
            _Entry(d.district, "district", d.ubigeo, d.department_code, d.population))
    seen_prov = set()
    for d in districts().values():
        if d.province_code in seen_prov:
            continue
        seen_prov.add(d.province_code)
        index.setdefault(fold(d.province), []).append(
            _Entry(d.province, "province", d.province_code + "01", d.department_code,
                   pop_prov[d.province_code]))
    for code, name in departments().items():
        index.setdefault(fold(name), []).append(
            _Entry(name, "department", code + "0101", code, pop_dep[code]))
    for alias, code in ALIASES.items():
        d = districts()[code]
        index[alias] = [_Entry(d.district, "district", code, code[:2], d.population)]
    return index


@lru_cache(maxsize=1)
def _fuzzy_buckets() -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for name in gazetteer():
        if len(name) >= 6:
            out.setdefault((name[0], len(name)), []).append(name)
    return out


_PHONETIC = [(re.compile(r"qu"), "k"), (re.compile(r"c(?=[ei])"), "s"), (re.compile(r"c(?!h)"), "k"),
             (re.compile(r"z"), "s"), (re.compile(r"v"), "b"), (re.compile(r"ll"), "y"),
             (re.compile(r"(?<!c)h"), ""), (re.compile(r"([a-z])\1+"), r"\1")]


def phonetic(name: str) -> str:
    """Spanish spelling-insensitive key (qu/k/c, z/s, v/b, ll/y, silent h, double letters)."""
    for rx, rep in _PHONETIC:
        name = rx.sub(rep, name)
    return name


@lru_cache(maxsize=1)
def _phonetic_index() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in gazetteer():
        if len(name) >= 5:
            out.setdefault(phonetic(name), name)
    return out


def _fuzzy(window: str) -> str | None:
    if len(window) < 5 or window.split(" ")[-1] in _STOP or window.split(" ")[0] in _STOP:
        return None
    same_sound = _phonetic_index().get(phonetic(window))
    if same_sound is not None:
        return same_sound
    if len(window) < 6:
        return None
    best, best_ratio = None, 0.88
    for n in range(len(window) - 2, len(window) + 3):
        for name in _fuzzy_buckets().get((window[0], n), ()):
            sm = difflib.SequenceMatcher(None, window, name)
            if sm.quick_ratio() < best_ratio:
                continue
            r = sm.ratio()
            if r > best_ratio or (r == best_ratio and best is None):
                best, best_ratio = name, r
    return best


class _EnyeIndex(dict):
    """The gazetteer seen through text whose ñ was kept: a window with an ñ matches only
    names written with ñ ("Cañete"), while a name typed without it still matches."""

    def __init__(self, index: dict[str, list[_Entry]]):
        super().__init__()
        self.index = index

    def _get(self, window: str) -> list[_Entry] | None:
        if _ENYE not in window:
            return self.index.get(window)
        got = [e for e in self.index.get(window.replace(_ENYE, "n"), ())
               if "ñ" in e.name.lower()]
        return got or None

    def __contains__(self, window: object) -> bool:
        return isinstance(window, str) and self._get(window) is not None

    def __getitem__(self, window: str) -> list[_Entry]:
        got = self._get(window)
        if got is None:
            raise KeyError(window)
        return got


# Place names that are also everyday words in a message: "llama al 945…", "un puno de
# pastillas" (puño typed without ñ), "está mala", "comas", "el tambo" (a shop).
AMBIGUOUS = frozenset("llama callao puno mala comas tambo pampas salas".split())
_LOCATIVE = frozenset("""en de del desde hasta por cerca para distrito provincia departamento
region ciudad hospital hospitales centro centros servicio servicios zona""".split())
_PRONOUNS = frozenset("me te se lo la le nos les un una el".split())
_PHONE = frozenset("numero celular cel whatsapp wsp telefono toque tiro".split())


def _everyday_use(key: str, tokens: list[str], i: int, n: int) -> bool | None:
    """For a name in ``AMBIGUOUS``: True when used as a common word, False when the words
    around it make it a place, None when they do not tell."""
    if key not in AMBIGUOUS:
        return None
    prev = tokens[i - 1] if i > 0 else ""
    nxt = tokens[i + n] if i + n < len(tokens) else ""
    nxt2 = tokens[i + n + 1] if i + n + 1 < len(tokens) else ""
    if nxt.isdigit() or (nxt in ("al", "a") and (nxt2.isdigit() or nxt2 in _PHONE)):
        return True  # "llama al 945…", "callao al toque"
    if prev in _LOCATIVE or prev in STRONG_CUES or (prev == "el" and key == "callao"):
        return False  # "cerca de Llama", "en Comas", "el Callao", "Lima y Callao al por mayor"
    if prev in _PRONOUNS or nxt in ("al", "de", "a", "la", "lo"):
        return True  # "me llama", "un puno de pastillas", "llama a su amigo"
    return None


def _verb_use(key: str, tokens: list[str], i: int, n: int) -> bool:
    """Whether a place name is used as a verb or adjective here ("llama al…", "callao al ver")."""
    everyday = _everyday_use(key, tokens, i, n)
    if everyday is not None:
        return everyday
    rule = VERB_LIKE.get(key)
    if rule is None:
        return False
    after, before = rule
    prev = tokens[i - 1] if i > 0 else ""
    nxt = tokens[i + n] if i + n < len(tokens) else ""
    if prev in before:
        return True
    if key == "llama" and not nxt:
        return prev not in STRONG_CUES  # "quien llama", "delivery llama" (no place after a verb)
    return nxt in after and prev not in STRONG_CUES


def find_places(text: str) -> list[Place]:
    """Return the places mentioned in ``text`` (each INEI place once)."""
    tokens = _WORDS.findall(fold(text.replace("ñ", _ENYE).replace("Ñ", _ENYE)))
    index = _EnyeIndex(gazetteer())
    raw: list[tuple[str, str, bool, int]] = []  # (key, matched, fuzzy, position)
    i = 0
    while i < len(tokens):
        hit = None
        for n in range(min(MAX_TOKENS, len(tokens) - i), 0, -1):
            window = " ".join(tokens[i:i + n])
            if window in index:
                hit = (window, window, False, n)
                break
        if hit is None:
            for n in range(min(3, len(tokens) - i), 0, -1):
                window = " ".join(tokens[i:i + n])
                if (key := _fuzzy(window)) is not None:
                    hit = (key, window, True, n)
                    break
        if hit is None:
            i += 1
            continue
        key, matched, fuzzy, n = hit
        if _verb_use(key, tokens, i, n):
            i += n
            continue
        cue = i > 0 and tokens[i - 1] in CUES
        raw.append((key, matched, fuzzy, i if cue else -1 - i))
        i += n
    accepted = [r for r in raw if r[0] not in COMMON_WORDS or r[3] >= 0 or
                any(o[0] not in COMMON_WORDS for o in raw if o is not r)]
    context = {e.department for key, *_ in accepted for e in index[key] if len(index[key]) == 1}
    context |= {e.department for key, *_ in accepted for e in index[key] if e.level == "department"}
    places: list[Place] = []
    seen: set[str] = set()
    for key, matched, fuzzy, _ in accepted:
        cands = index[key]
        cands = sorted(cands, key=lambda e: (e.department in context, e.level == "district",
                                              e.population), reverse=True)
        best = cands[0]
        tag = best.ubigeo + best.level
        if tag in seen:
            continue
        seen.add(tag)
        places.append(Place(best.name, best.level, best.ubigeo, best.department, matched, fuzzy))
    return places
