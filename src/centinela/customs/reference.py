"""Shipped reference lists: precursor HS codes, origin/route weights, declared-content profiles."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from centinela.customs.identity import normalize_text


@lru_cache(maxsize=4)
def load(name: str) -> dict:
    """Return one shipped JSON file of ``customs/data``."""
    return json.loads((resources.files("centinela.customs") / "data" / name).read_text("utf-8"))


def hs_risk(hs_code: str | None) -> tuple[float, str | None]:
    """Return (weight, label) of the longest listed HS prefix of ``hs_code``."""
    if not hs_code:
        return 0.0, None
    best = (0.0, None, 0)
    for entry in load("hs_codes.json")["codes"]:
        p = entry["prefix"]
        if hs_code.startswith(p) and len(p) > best[2]:
            best = (entry["weight"], entry["label"], len(p))
    return best[0], best[1]


@lru_cache(maxsize=1)
def _spanish() -> dict[str, str]:
    """Every reference label and content category in Spanish, by its English text (the data
    files carry ``label_es`` / ``name_es`` beside each)."""
    out: dict[str, str] = {}
    origins = load("origins.json")
    for entry in [*origins["countries"].values(), *origins["transit"].values(),
                  *load("hs_codes.json")["codes"], *load("hs_codes.json")["keywords"]]:
        if entry.get("label_es"):
            out[entry["label"]] = entry["label_es"]
    for cat in load("content_profiles.json")["categories"]:
        if cat.get("name_es"):
            out[cat["name"]] = cat["name_es"]
    return out


def spanish(text: str | None) -> str | None:
    """A reference label or content category in Spanish (itself when there is none)."""
    return None if text is None else _spanish().get(text, text)


@lru_cache(maxsize=1)
def _keywords() -> list[tuple[str, float, str]]:
    return [(normalize_text(e["pattern"]), e["weight"], e["label"])
            for e in load("hs_codes.json")["keywords"]]


@lru_cache(maxsize=1)
def _vague() -> frozenset[str]:
    return frozenset(normalize_text(v) for v in load("content_profiles.json")["vague"])


@lru_cache(maxsize=65536)
def keyword_risk(content: str) -> tuple[float, str | None]:
    """Return (weight, label) of the strongest precursor/drug keyword in declared content."""
    text = normalize_text(content)
    best: tuple[float, str | None] = (0.0, None)
    for pattern, weight, label in _keywords():
        if pattern in text and weight > best[0]:
            best = (weight, label)
    return best


@lru_cache(maxsize=1)
def _category_words() -> list[tuple[str, dict]]:
    out = []
    for cat in load("content_profiles.json")["categories"]:
        for w in cat["words"]:
            out.append((normalize_text(w), cat))
    out.sort(key=lambda t: -len(t[0]))  # "power bank" before "bank"
    return out


@lru_cache(maxsize=65536)
def category(content: str) -> dict | None:
    """Return the content profile whose word appears in the declared content, if any."""
    text = f" {normalize_text(content)} "
    for word, cat in _category_words():
        if f" {word} " in text or (len(word) > 5 and word in text):
            return cat
    return None


@lru_cache(maxsize=65536)
def is_vague(content: str) -> bool:
    """Return True when the declaration says nothing checkable ("gift", "sample", "varios")."""
    text = normalize_text(content)
    vague = _vague()
    return text in vague or (len(text.split()) <= 2 and any(v in text for v in vague))


def origin_weight(country: str) -> tuple[float, str | None]:
    """Return (weight, reason) of an origin country."""
    entry = load("origins.json")["countries"].get(country)
    return (entry["weight"], entry["label"]) if entry else (0.0, None)


def transit_weight(countries: list[str]) -> tuple[float, str | None]:
    """Return the highest (weight, reason) among transit countries."""
    best = (0.0, None)
    for c in countries or []:
        entry = load("origins.json")["transit"].get(c)
        if entry and entry["weight"] > best[0]:
            best = (entry["weight"], entry["label"])
    return best
