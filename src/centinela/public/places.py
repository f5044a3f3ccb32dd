"""Find an INEI place named in free text ("hospital cerca de Huamanga") → a district ubigeo."""

from __future__ import annotations

import re
from functools import lru_cache

from centinela.lib.text import fold_keep_enye as fold
from centinela.public.text import STOPWORDS, words
from centinela.reference import ubigeo as ref

# Words that are place names somewhere in Peru but mean something else in a question.
_NOT_PLACES = frozenset("""centro centros salud mental hospital hospitales servicio servicios
cerca cercano cercanos ayuda atencion clinica farmacia union progreso independencia libertad
san santa santo cruz nuevo nueva alto alta bajo baja grande paz esperanza pueblo playa puerto
rio lima""".split()) - {"lima"}


# Place names that are also everyday words: "llama al 945…" (calls), "quédate callao" (callado,
# as it is said on the coast), "un puno de pastillas" (puño typed without ñ), "está mala",
# "comas", "el tambo" (a shop). They count as places only with a locative cue before them
# ("en", "de", "distrito de", …) or written with a capital and not used as a verb.
AMBIGUOUS = frozenset("llama callao puno mala comas tambo pampas salas".split())
_LOCATIVE = frozenset("""en de del desde hasta por cerca para distrito provincia departamento
region ciudad hospital hospitales centro centros servicio servicios""".split())
_PRONOUNS = frozenset("me te se lo la le nos les un una el".split())
_TOKEN = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Folded tokens of ``text`` with whether each was written with a capital letter."""
    return [(fold(m.group()), m.group()[0].isupper()) for m in _TOKEN.finditer(text)]


def _is_place_use(toks: list[tuple[str, bool]], i: int) -> bool:
    """Whether the ambiguous word at ``i`` is used as a place name, not as a common word."""
    before = toks[i - 1][0] if i > 0 else ""
    after = toks[i + 1][0] if i + 1 < len(toks) else ""
    after2 = toks[i + 2][0] if i + 2 < len(toks) else ""
    if after.isdigit() or (after in ("al", "a") and (after2.isdigit() or after2 in (
            "numero", "celular", "cel", "whatsapp", "wsp", "telefono", "toque", "tiro"))):
        return False  # "llama al 945…", "callao al toque"
    if before in _LOCATIVE or (before == "el" and toks[i][0] == "callao"):
        return True
    if before in _PRONOUNS or after in ("al", "de", "a", "la", "lo"):
        return False  # "me llama", "un puno de pastillas", "llama a su amigo"
    return toks[i][1] or len(toks) <= 3  # capitalized, or the message is only the place


@lru_cache(maxsize=1)
def _names() -> dict[tuple[str, ...], str]:
    """Return folded name tokens → district ubigeo (department, then province, then district)."""
    out: dict[tuple[str, ...], str] = {}
    districts = ref.districts()
    by_pop = sorted(districts.values(), key=lambda d: -d.population)
    for d in by_pop:  # a district name shared by several districts → the most populous
        out.setdefault(tuple(words(d.district)), d.ubigeo)
    for code, (_dep, prov) in ref.provinces().items():
        capital = code + "01"
        if capital in districts:
            out[tuple(words(prov))] = capital
    for code, dep in ref.departments().items():
        capital = code + "0101"
        if capital in districts:
            out[tuple(words(dep))] = capital
    return out


def find_place(text: str) -> str | None:
    """Return the ubigeo of the longest place name in ``text`` (None when there is none)."""
    cased = _tokens(text)
    toks = [t for t, _ in cased]
    names = _names()
    best: tuple[int, str] | None = None
    for n in (4, 3, 2, 1):
        for i in range(len(toks) - n + 1):
            gram = tuple(toks[i : i + n])
            if n == 1 and (gram[0] in STOPWORDS or gram[0] in _NOT_PLACES or len(gram[0]) < 4):
                continue
            if n == 1 and gram[0] in AMBIGUOUS and not _is_place_use(cased, i):
                continue
            code = names.get(gram)
            if code and (best is None or n > best[0]):
                best = (n, code)
        if best:
            return best[1]
    return None
