"""Institution type of an establishment: MINSA and regional governments, EsSalud, armed forces and
police health services, private — derived as honestly as the registry allows.

The reporting format has no institution field. The rule, in order:
1. sector ``private`` → ``private``;
2. a public establishment whose (folded) name and district match a hospital of MINSA's IPRESS
   registry shipped in ``data/peru`` → that registry's institution (ESSALUD → ``essalud``;
   SANIDAD DEL EJÉRCITO / MARINA / FUERZA AÉREA / POLICÍA → ``armed_police``; MINSA, GOBIERNO
   REGIONAL, MUNICIPALIDAD → ``minsa``);
3. a public establishment whose name says so (``essalud``, ``seguro social``; ``militar``,
   ``naval``, ``fuerza aerea``, ``ejercito``, ``marina``, ``policia``, ``pnp``, ``fap``) → that type;
4. any other public establishment → ``minsa`` (MINSA and regional governments: the default of the
   public sector, stated as such in the report's method notes);
5. an establishment not in the registry → ``unregistered``.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache

from centinela.lib.text import fold
from centinela.reference.ubigeo import data_path

TYPES = ("minsa", "essalud", "armed_police", "private", "unregistered")
LABELS = {
    "minsa": "MINSA y gobiernos regionales", "essalud": "EsSalud",
    "armed_police": "Sanidad de las FF. AA. y de la PNP", "private": "Privado",
    "unregistered": "No registrado",
}
_ESSALUD = re.compile(r"\b(essalud|es salud|seguro social|ipss)\b")
_ARMED = re.compile(r"\b(militar|naval|fuerza aerea|fap|ejercito|marina|policia|pnp|"
                    r"sanidad de las? (fuerzas|ff ?aa))\b")


def _ipress_type(institution: str) -> str:
    inst = fold(institution)
    if "essalud" in inst:
        return "essalud"
    if "sanidad" in inst:
        return "armed_police"
    return "minsa"


@lru_cache(maxsize=1)
def ipress_index() -> dict[tuple[str, str], str]:
    """Return (folded hospital name, ubigeo) → type, from the shipped IPRESS hospital list."""
    out = {}
    path = data_path("hospitals_ipress_operational.csv")
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for r in csv.DictReader(fh):
            name = _key(r["Nombre del establecimiento"])
            out[(name, r["UBIGEO"].strip().zfill(6))] = _ipress_type(r["Institucion"])
    return out


def _key(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", fold(name.replace("\ufffd", ""))).split())


def institution_type(name: str | None, sector: str | None, ubigeo: str | None,
                     registered: bool = True) -> str:
    """Return the institution type of one establishment (see the module docstring)."""
    if not registered:
        return "unregistered"
    if (sector or "").lower() == "private":
        return "private"
    key = _key(name or "")
    hit = ipress_index().get((key, (ubigeo or "").zfill(6)))
    if hit:
        return hit
    if _ESSALUD.search(key):
        return "essalud"
    if _ARMED.search(key):
        return "armed_police"
    return "minsa"
