"""Find the INEI place named in a citizen's question ("hospital cerca de Huamanga") → a district
ubigeo, with the one place finder of :mod:`centinela.reference.places`, plus the common names
of cities that are not district names ("Pucallpa" is the district of Callería)."""

from __future__ import annotations

import re
from functools import lru_cache

from centinela.lib.text import fold
from centinela.reference.places import find_places
from centinela.reference.ubigeo import departments

# City → district (INEI ubigeo) for cities whose everyday name is not the name of their
# district, or is also the name of a district elsewhere ("Tingo María" is not Tingo, Amazonas).
CITY_ALIASES = {
    "pucallpa": "250101",  # Callería, Coronel Portillo, Ucayali
    "puerto maldonado": "170101",  # Tambopata, Tambopata, Madre de Dios
    "tingo maria": "100601",  # Rupa-Rupa, Leoncio Prado, Huánuco
    "cerro de pasco": "190101",  # Chaupimarca, Pasco, Pasco
    "quillabamba": "080901",  # Santa Ana, La Convención, Cusco
    "aguaytia": "250301",  # Padre Abad, Padre Abad, Ucayali
}
_CITY = re.compile(r"\b(" + "|".join(sorted(map(re.escape, CITY_ALIASES), key=len,
                                            reverse=True)) + r")\b")


@lru_cache(maxsize=1)
def _department_names() -> dict[str, str]:
    """Folded department name → department code."""
    return {fold(name): code for code, name in departments().items()}


def find_place(text: str, prefer_department: bool = False) -> str | None:
    """Return the ubigeo of the place named in ``text`` (None when there is none).

    One place finder serves the assistant and the online monitor
    (:func:`centinela.reference.places.find_places`: exact names, then fuzzy and phonetic
    spellings, verb uses left out). A question names where the person is: a city's common name
    ("Pucallpa") first, then an exact name beats a fuzzy one, and a district beats its province
    and department.

    With ``prefer_department`` (the service finder), a name shared by a department and a
    district elsewhere in it means the department, i.e. its capital ("Madre de Dios" is the
    region, not the district of Manu; "Junín" is the region around Huancayo).
    """
    city = _CITY.search(fold(text))
    if city:
        return CITY_ALIASES[city.group(1)]
    places = find_places(text)
    if not places:
        return None
    if prefer_department:
        deps = _department_names()
        places = [_as_department(p, deps) for p in places]
    rank = {"district": 0, "province": 1, "department": 2}
    return min(places, key=lambda p: (p.fuzzy, rank.get(p.level, 3))).ubigeo


def _as_department(place, deps: dict[str, str]):
    """``place`` read as its department when its name is the department's name."""
    code = deps.get(fold(place.name))
    if place.level == "department" or code is None or code != place.department:
        return place
    from dataclasses import replace

    return replace(place, level="department", ubigeo=code + "0101")
