"""Family and legal control of a classified substance, with the instrument named.

Sources: the registry's ``schedules`` codes (international schedules of each listed substance),
Law 32250 for fentanyl and its analogues, and the class-wide definition for fentanyl-related
substances. Peru incorporates the schedules of the 1961 and 1971 Conventions in its own lists
(Decreto Supremo N.° 023-2001-SA and its updates); the Peruvian record is derived from the
international one and must be checked against the list in force before any legal use.
"""

from __future__ import annotations

FAMILIES = ("fentanyl", "nitazene", "other_opioid", "precursor", "none")
FAMILY_RANK = {f: len(FAMILIES) - i for i, f in enumerate(FAMILIES)}  # fentanyl highest
FAMILY_LABELS = {
    "fentanyl": ("fentanilo y análogos", "fentanyl and analogues"),
    "nitazene": ("nitacenos", "nitazenes"),
    "other_opioid": ("otros opioides", "other opioids"),
    "precursor": ("precursores", "precursors"),
    "none": ("ninguna familia opioide", "no opioid family"),
}
_CATEGORY_FAMILY = {
    "fentanyl": "fentanyl", "listed_fentanyl_analogue": "fentanyl",
    "fentanyl_related": "fentanyl", "fentanyl_scaffold_outside_class": "fentanyl",
    "nitazene": "nitazene", "brorphine_like": "other_opioid", "u_series": "other_opioid",
    "other_opioid": "other_opioid", "precursor": "precursor",
}
SCHEDULES = {
    "UN1961-I": ("UN", "Convención Única de 1961 sobre Estupefacientes", "Lista I"),
    "UN1961-II": ("UN", "Convención Única de 1961 sobre Estupefacientes", "Lista II"),
    "UN1961-IV": ("UN", "Convención Única de 1961 sobre Estupefacientes", "Lista IV"),
    "UN1971-II": ("UN", "Convenio sobre Sustancias Sicotrópicas de 1971", "Lista II"),
    "UN1971-III": ("UN", "Convenio sobre Sustancias Sicotrópicas de 1971", "Lista III"),
    "UN1971-IV": ("UN", "Convenio sobre Sustancias Sicotrópicas de 1971", "Lista IV"),
    "UN1988-T1": ("UN", "Convención de 1988 contra el Tráfico Ilícito (precursores)", "Cuadro I"),
}
PE_LISTS = ("PE", "Decreto Supremo N.° 023-2001-SA y actualizaciones (listas que incorporan las "
            "de las Convenciones de 1961 y 1971)", "según la Lista internacional")
PE_LAW = ("PE", "Ley N.° 32250 (2025), Código Penal arts. 296-298", "fentanilo y sus análogos")
US_CLASS = ("US", "21 CFR 1308.11(h) y HALT Fentanyl Act (2025)",
            "sustancias relacionadas con el fentanilo (definición genérica)")
PENTAVALENT_MORPHINE = ("UN", "Convención Única de 1961 sobre Estupefacientes",
                        "Lista I: derivados de la morfina con nitrógeno pentavalente "
                        "(N-óxidos, metobromuro)")


def family_of(category: str) -> str:
    """Return the family (fentanyl, nitazene, other_opioid, precursor, none) of a category."""
    return _CATEGORY_FAMILY.get(category, "none")


def _rec(item: tuple[str, str, str]) -> dict:
    juris, instrument, schedule = item
    return {"jurisdiction": juris, "instrument": instrument, "schedule": schedule,
            "source": f"{instrument}, {schedule}"}


def control_for(category: str, substance=None) -> tuple[bool | None, list[dict]]:
    """Return (controlled, records) for a category and its registry entry (if any).

    ``controlled`` is None when it cannot be decided without an expert (a structure outside
    the generic definitions, a derivative of a listed opioid).
    """
    records: list[dict] = []
    codes = tuple(getattr(substance, "schedules", ()) or ())
    if category in ("fentanyl", "listed_fentanyl_analogue", "fentanyl_related"):
        records.append(_rec(PE_LAW))
    if any(c.startswith(("UN1961", "UN1971")) for c in codes):
        records.append(_rec(PE_LISTS))
    records.extend(_rec(SCHEDULES[c]) for c in codes if c in SCHEDULES)
    if category == "fentanyl_related":
        records.append(_rec(US_CLASS))
    if category in ("fentanyl_scaffold_outside_class", "opioid_derivative"):
        return None, records
    return bool(records), records


def pentavalent_morphine_record() -> dict:
    """The 1961 Schedule I entry covering N-oxides and quaternary salts of morphine."""
    return _rec(PENTAVALENT_MORPHINE)
