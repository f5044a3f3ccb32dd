"""Matching helpers of triage: seller contacts, establishment names, grid-snapped pins."""

from __future__ import annotations

import difflib
import re
from urllib.parse import urlsplit

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.public.text import words
from centinela.registry.models import Establishment

GRID_DEG = 0.005  # ~550 m of latitude, ~540 m of longitude at Lima's latitude
LINK_THRESHOLD = 0.8
_GENERIC = frozenset("""farmacia farmacias botica boticas drogueria cadena sac eirl srl sa saa
de del la el los las y e cia hnos bazar minimarket pharmacy drugstore store tienda""".split())


def snap(lat: float, lon: float) -> tuple[float, float]:
    """Round a pin to the ~500 m grid that is stored (never the exact point)."""
    return (round(round(lat / GRID_DEG) * GRID_DEG, 4), round(round(lon / GRID_DEG) * GRID_DEG, 4))


_PLACEHOLDER = re.compile(r"\[[^\]]*redactad[oa]\]")


def contact_key(contact: str | None) -> str | None:
    """Normalize a seller's phone, handle or URL so two reports of it compare equal (a
    redaction label is no part of it: two contacts must not match on "[DNI redactado]")."""
    raw = _PLACEHOLDER.sub(" ", contact or "").strip()
    if not raw:
        return None
    digits = re.sub(r"[^\d+]", "", raw)
    if len(re.sub(r"\D", "", digits)) >= 6 and not re.search(r"[a-zA-Z]{3,}", raw):
        try:
            num = phonenumbers.parse(digits, "PE")
            if phonenumbers.is_possible_number(num):
                return "tel:" + phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        return "tel:" + re.sub(r"\D", "", digits)
    if raw.startswith("@"):
        return "handle:" + raw[1:].lower()
    if "://" in raw or re.match(r"^(www\.)?[\w-]+\.[a-z]{2,}(/|$)", raw, re.I):
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        host = parts.netloc.lower().removeprefix("www.").removeprefix("m.")
        return "url:" + host + parts.path.rstrip("/").lower()
    return "text:" + " ".join(words(raw))


def name_key(name: str) -> str:
    """Fold an establishment name and drop generic words (farmacia, botica, S.A.C., …) and the
    redaction labels ("[teléfono redactado]") that a redacted name may carry."""
    return " ".join(w for w in words(_PLACEHOLDER.sub(" ", name)) if w not in _GENERIC)


def name_similarity(a: str, b: str) -> float:
    """Similarity of two establishment names (0–1): sequence ratio or token containment."""
    ka, kb = name_key(a), name_key(b)
    if not ka or not kb:
        return 0.0
    ratio = difflib.SequenceMatcher(None, ka, kb).ratio()
    ta, tb = set(ka.split()), set(kb.split())
    contain = len(ta & tb) / min(len(ta), len(tb))
    return max(ratio, 0.95 * contain if min(len(ta), len(tb)) >= 1 and contain == 1 else 0.0)


def link_establishment(session: Session, name: str | None,
                       ubigeo: str) -> tuple[str | None, float | None]:
    """Return the registry establishment in the district whose name best matches ``name``."""
    if not name or not name_key(name):
        return None, None
    best_id, best = None, 0.0
    for est in session.scalars(select(Establishment).where(Establishment.ubigeo == ubigeo)):
        score = name_similarity(name, est.name)
        if score > best:
            best_id, best = est.establishment_id, score
    if best >= LINK_THRESHOLD:
        return best_id, round(best, 3)
    return None, round(best, 3) if best else None
