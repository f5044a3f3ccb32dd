"""Keyed pseudonyms of consignees, addresses and phones (no name, address or number is stored).

A consignee with a typed document (``DNI:…``, ``CE:…``, ``PAS:…``) gets the patient-wide ``PSN:``
pseudonym of ``centinela.privacy``; otherwise a keyed hash of the normalized name and district.
Phones from online leads and citizen reports are hashed the same way at match time, so a match
needs no stored number on the customs side.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from centinela.config import get_settings
from centinela.privacy import pseudonymize


def normalize_text(value: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces (``José  Pérez.`` → ``jose perez``)."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def keyed(purpose: str, value: str, prefix: str, key: str | None = None) -> str:
    """Return ``prefix:`` and 24 hex characters of the HMAC of ``purpose:value``."""
    secret = (key or get_settings().pseudonym_key).encode()
    digest = hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}:{digest[:24]}"


def phone_digits(value: str | None) -> str | None:
    """Return the last 9 digits of a phone (Peruvian mobiles; foreign numbers stay distinct)."""
    digits = re.sub(r"\D", "", value or "")
    return digits[-9:] if len(digits) >= 6 else None


def phone_key(value: str | None) -> str | None:
    """Return the keyed hash of a phone number, or None when it has too few digits."""
    digits = phone_digits(value)
    return keyed("phone", digits, "TEL") if digits else None


def consignee_key(name: str, ubigeo: str, document: str | None = None) -> str:
    """Return the consignee's pseudonym: ``PSN:`` from a typed document, else a keyed name hash."""
    if document:
        return pseudonymize(document)
    return keyed("consignee", f"{normalize_text(name)}|{ubigeo}", "CNS")


def address_key(address: str | None, ubigeo: str) -> str | None:
    """Return the keyed hash of a delivery address within its district."""
    norm = normalize_text(address or "")
    return keyed("address", f"{norm}|{ubigeo}", "ADR") if norm else None


def sender_key(name: str, country: str) -> str:
    """Return a stable key of a sender (normalized name and country) for watch-list matching."""
    return keyed("sender", f"{normalize_text(name)}|{country}", "SND")
