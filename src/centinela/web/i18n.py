"""Spanish-first message catalogs; each area owns one JSON file in ``web/i18n/``.

A catalog file is ``{"es": {"key": "texto"}, "en": {"key": "text"}}``. Missing English keys fall
back to Spanish; a missing key renders as the key itself (and a test checks none are missing).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

LANGS = ("es", "en")
DEFAULT_LANG = "es"


@lru_cache(maxsize=1)
def catalogs() -> dict[str, dict[str, str]]:
    """Return lang → key → message merged from every catalog file."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    folder = resources.files("centinela") / "web" / "i18n"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        data = json.loads(item.read_text(encoding="utf-8"))
        for lang in LANGS:
            merged[lang].update(data.get(lang, {}))
    return merged


def translate(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """Return the message for ``key`` in ``lang`` (Spanish fallback), formatted with params."""
    cats = catalogs()
    text = cats.get(lang, {}).get(key) or cats[DEFAULT_LANG].get(key) or key
    return text.format(**params) if params else text


def pick_lang(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """Choose the interface language: ?lang=, then cookie, then Accept-Language, else Spanish."""
    for cand in (query_lang, cookie_lang):
        if cand in LANGS:
            return cand
    if accept and accept.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG
