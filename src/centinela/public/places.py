"""Find the INEI place named in a citizen's question ("hospital cerca de Huamanga") → a district
ubigeo, with the one place finder of :mod:`centinela.reference.places`."""

from __future__ import annotations

from centinela.reference.places import find_places


def find_place(text: str) -> str | None:
    """Return the ubigeo of the place named in ``text`` (None when there is none).

    One place finder serves the assistant and the online monitor
    (:func:`centinela.reference.places.find_places`: exact names, then fuzzy and phonetic
    spellings, verb uses left out). A question names where the person is: an exact name beats
    a fuzzy one, and a district beats its province and department.
    """
    places = find_places(text)
    if not places:
        return None
    rank = {"district": 0, "province": 1, "department": 2}
    return min(places, key=lambda p: (p.fuzzy, rank.get(p.level, 3))).ubigeo
