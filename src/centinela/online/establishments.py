"""Match registry establishments named in posts (accent-insensitive, tolerant to small typos)."""

from __future__ import annotations

import difflib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.lib.text import fold
from centinela.registry.models import Establishment

GENERIC = frozenset({"botica", "boticas", "farmacia", "farmacias", "clinica", "hospital", "policlinico",
                     "centro", "medico", "de", "del", "la", "el", "los", "las", "y", "sac", "s.a.c.",
                     "eirl", "e.i.r.l.", "sa", "s.a.", "srl", "s.r.l.", "saa", "drogueria", "cadena"})
VENUE = re.compile(r"\b(botica|farmacia|clinica|hospital|policlinico|drogueria|posta|centro de salud)\b")
_TOKEN = re.compile(r"[a-z0-9ñ.]+")


def core_name(name: str) -> str:
    """The distinctive part of an establishment name (generic and legal words removed)."""
    return " ".join(t for t in _TOKEN.findall(fold(name)) if t not in GENERIC)


def match_establishments(session: Session, texts: list[str], limit: int = 5) -> list[dict]:
    """Return registry establishments named in ``texts`` (id, name, ubigeo, how matched)."""
    folded = " \n ".join(fold(t) for t in texts)
    words = _TOKEN.findall(folded)
    venue = bool(VENUE.search(folded))
    found: list[dict] = []
    rows = session.execute(select(Establishment.establishment_id, Establishment.name,
                                  Establishment.ubigeo, Establishment.department))
    for est_id, name, ubigeo, dep in rows:
        full = " ".join(_TOKEN.findall(fold(name)))
        core = core_name(name)
        how = None
        if len(full) >= 6 and re.search(rf"(?<![a-z0-9]){re.escape(full)}(?![a-z0-9])", folded):
            how = "full name"
        elif venue and len(core) >= 5:
            if re.search(rf"(?<![a-z0-9]){re.escape(core)}(?![a-z0-9])", folded):
                how = "name"
            else:
                n = len(core.split())
                for i in range(len(words) - n + 1):
                    window = " ".join(words[i:i + n])
                    if window[:1] == core[:1] and abs(len(window) - len(core)) <= 2 and difflib.SequenceMatcher(None, window, core).ratio() >= 0.9:
                        how = "fuzzy name"
                        break
        if how:
            found.append({"establishment_id": est_id, "name": name, "ubigeo": ubigeo,
                          "department": dep, "matched": how})
            if len(found) >= limit:
                break
    return found
