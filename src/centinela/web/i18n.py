"""Spanish-first message catalogs; each area owns one JSON file in ``web/i18n/``.

A catalog file is ``{"es": {"key": "texto"}, "en": {"key": "text"}}``. Missing English keys fall
back to Spanish; a missing key renders as the key itself (and a test checks none are missing).
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

from centinela.web.fmt import format_number

LANGS = ("es", "en")

current_lang: ContextVar[str] = ContextVar("centinela_lang", default="es")
"""The interface language of the request being served (set by the app's middleware); lists
built deep in the page contexts read it to show stored Spanish text in the reader's language."""
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


def plural(key: str, n: int | float, lang: str = DEFAULT_LANG, **params: object) -> str:
    """Return ``key.one`` (n == 1) or ``key.other`` in ``lang``, with ``{n}`` written in the
    language's number style ("1 alerta", "1 234 alertas")."""
    form = "one" if n == 1 else "other"
    return translate(f"{key}.{form}", lang, **{"n": format_number(n, lang), **params})


def pick_lang(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """Choose the interface language: ?lang=, then cookie, then Accept-Language, else Spanish."""
    for cand in (query_lang, cookie_lang):
        if cand in LANGS:
            return cand
    if accept and accept.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG


# AccountError messages (English, for logs and the API) → catalogue keys for the pages.
_ACCOUNT_ERRORS = (
    (r"password: at least (?P<n>\d+) characters", "account_error.password_short"),
    (r"password: too common", "account_error.password_common"),
    (r"password: too few distinct characters", "account_error.password_distinct"),
    (r"password: a run of digits", "account_error.password_digits"),
    (r"password: must not contain the username", "account_error.password_username"),
    (r"username: 3-80 characters", "account_error.username_format"),
    (r"username: '(?P<name>.*)' already exists", "account_error.username_taken"),
    (r"role: must be one of", "account_error.role"),
    (r"departments: unknown INEI department code\(s\) (?P<codes>.*)",
     "account_error.departments_unknown"),
    (r"departments: a regional analyst needs", "account_error.departments_needed"),
    (r"professional_id: college number", "account_error.professional_id"),
    (r"username: no such user", "account_error.no_such_user"),
    (r"scopes: choose from", "account_error.scopes"),
)


def account_error(message: str, lang: str = DEFAULT_LANG) -> str:
    """Return an account-validation message in ``lang`` (unknown messages pass through)."""
    import re

    for pattern, key in _ACCOUNT_ERRORS:
        m = re.match(pattern, message)
        if m:
            return translate(key, lang, **m.groupdict())
    return message


@lru_cache(maxsize=1)
def _detector_titles() -> dict[str, tuple[str, str]]:
    """Return detector name → (Spanish, English) from each detector's "es / en" title."""
    from centinela.detect.registry import DETECTORS, load

    out: dict[str, tuple[str, str]] = {}
    for name in DETECTORS:
        try:
            title = load(name).title
        except Exception:  # noqa: BLE001 - a broken plugin must not break every page
            continue
        es, _, en = title.partition(" / ")
        out[name] = (es.strip(), (en or es).strip())
    return out


def detector_label(name: str, lang: str = DEFAULT_LANG) -> str:
    """Return a detector's human title in ``lang`` (the catalogue, then its own title, else the
    code itself, e.g. for early-warning and citizen-report alerts)."""
    key = f"detector.{name}"
    text = translate(key, lang)
    if text != key:
        return text
    titles = _detector_titles().get(name)
    if titles is None:
        return name
    return titles[0] if lang == "es" else titles[1]
