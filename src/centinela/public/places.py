"""Find an INEI place named in free text ("hospital cerca de Huamanga") → a district ubigeo."""

from __future__ import annotations

from functools import lru_cache

from centinela.public.text import STOPWORDS, words
from centinela.reference import ubigeo as ref

# Words that are place names somewhere in Peru but mean something else in a question.
_NOT_PLACES = frozenset("""centro centros salud mental hospital hospitales servicio servicios
cerca cercano cercanos ayuda atencion clinica farmacia union progreso independencia libertad
san santa santo cruz nuevo nueva alto alta bajo baja grande paz esperanza pueblo playa puerto
rio lima""".split()) - {"lima"}


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
    toks = words(text)
    names = _names()
    best: tuple[int, str] | None = None
    for n in (4, 3, 2, 1):
        for i in range(len(toks) - n + 1):
            gram = tuple(toks[i : i + n])
            if n == 1 and (gram[0] in STOPWORDS or gram[0] in _NOT_PLACES or len(gram[0]) < 4):
                continue
            code = names.get(gram)
            if code and (best is None or n > best[0]):
                best = (n, code)
        if best:
            return best[1]
    return None
