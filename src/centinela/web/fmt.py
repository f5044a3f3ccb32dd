"""One way to write numbers and dates on every page: es-PE (or en) with Babel, times in Lima.

Templates use the filters registered by :func:`register` (``render`` registers them on the
shared Jinja environment); the language comes from the template's ``lang`` variable:

    {{ value|num }}            1 369 (es: non-breaking space between thousands)
    {{ value|dec }}            1 368,97 (2 decimals; en: 1,368.97)
    {{ value|qty }}            2 or 0,5 (units: decimals only when needed)
    {{ value|mg }}             1 333,5 mg
    {{ value|pct }}            12,5 %
    {{ when|date }}            5 dic 2026 (a date, datetime or ISO string; naive = UTC)
    {{ when|datetime }}        5 dic 2026, 10:04 (America/Lima, no offset shown)

Python code calls the same functions with ``lang=``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel import dates as bdates
from babel import numbers as bnumbers
from jinja2 import pass_context

LIMA = ZoneInfo("America/Lima")
LOCALES = {"es": "es_PE", "en": "en_US"}

__all__ = ["LIMA", "format_date", "format_datetime", "format_decimal", "format_mg",
           "format_number", "format_percent", "format_quantity", "register", "to_lima"]


def _locale(lang: str | None) -> str:
    return LOCALES.get((lang or "es")[:2], "es_PE")


# Peru's official style (SI, INDECOPI's metrology norm; the "1 333,5 mg"): decimal comma
# and a non-breaking space between thousands. CLDR's es_PE uses "1,333.5", so the Spanish
# number is formatted with Babel in the neutral pattern and its separators are swapped.
_ES_SEPARATORS = str.maketrans({",": "\u00a0", ".": ","})


def format_number(value: float | int | None, lang: str = "es", digits: int = 0) -> str:
    """Return ``value`` with ``digits`` decimals in the language's style ("" for None)."""
    if value is None:
        return ""
    fmt = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    text = bnumbers.format_decimal(value, format=fmt, locale="en_US", group_separator=True)
    return text.translate(_ES_SEPARATORS) if _locale(lang).startswith("es") else text


def format_decimal(value: float | int | None, lang: str = "es", digits: int = 2) -> str:
    """Return ``value`` with exactly ``digits`` decimals (default 2)."""
    return format_number(value, lang, digits)


def format_quantity(value: float | int | None, lang: str = "es", digits: int = 2) -> str:
    """Return a count of units with up to ``digits`` decimals, none when whole (``2``, ``0,5``)."""
    if value is None:
        return ""
    fmt = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    text = bnumbers.format_decimal(value, format=fmt, locale="en_US", group_separator=True)
    return text.translate(_ES_SEPARATORS) if _locale(lang).startswith("es") else text


def format_mg(value: float | int | None, lang: str = "es", digits: int = 1) -> str:
    """Return a mass in milligrams, e.g. ``1 333,5 mg``."""
    if value is None:
        return ""
    return f"{format_number(value, lang, digits)}\u00a0mg"


def format_percent(value: float | None, lang: str = "es", digits: int = 1) -> str:
    """Return a percentage of a 0-100 value, e.g. ``12,5 %`` (es) or ``12.5%`` (en)."""
    if value is None:
        return ""
    sep = "\u00a0" if _locale(lang).startswith("es") else ""
    return f"{format_number(value, lang, digits)}{sep}%"


def _parse(value) -> dt.datetime | dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_lima(value: dt.datetime) -> dt.datetime:
    """Return ``value`` in America/Lima; a naive datetime is taken as UTC (how we store it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LIMA)


def format_date(value, lang: str = "es", fmt: str = "medium") -> str:
    """Return a date (or a datetime's Lima date) like ``5 dic 2026``; unparseable text as is."""
    parsed = _parse(value)
    if parsed is None:
        return "" if value in (None, "") else str(value)
    if isinstance(parsed, dt.datetime):
        parsed = to_lima(parsed).date()
    return bdates.format_date(parsed, format=fmt, locale=_locale(lang)).replace(".", "")


def format_datetime(value, lang: str = "es") -> str:
    """Return a date and time in Lima like ``5 dic 2026, 10:04`` (no offset, 24-hour clock)."""
    parsed = _parse(value)
    if parsed is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(parsed, dt.datetime):
        return format_date(parsed, lang)
    local = to_lima(parsed)
    return f"{format_date(local.date(), lang)}, {local:%H:%M}"


def _lang(ctx) -> str:
    return ctx.get("lang") or "es"


def register(env) -> None:
    """Register the filters ``num``, ``dec``, ``qty``, ``mg``, ``pct``, ``date``, ``datetime`` on ``env``."""

    @pass_context
    def num(ctx, value, digits: int = 0):
        return format_number(value, _lang(ctx), digits)

    @pass_context
    def dec(ctx, value, digits: int = 2):
        return format_decimal(value, _lang(ctx), digits)

    @pass_context
    def qty(ctx, value, digits: int = 2):
        return format_quantity(value, _lang(ctx), digits)

    @pass_context
    def mg(ctx, value, digits: int = 1):
        return format_mg(value, _lang(ctx), digits)

    @pass_context
    def pct(ctx, value, digits: int = 1):
        return format_percent(value, _lang(ctx), digits)

    @pass_context
    def date(ctx, value, fmt: str = "medium"):
        return format_date(value, _lang(ctx), fmt)

    @pass_context
    def datetime_(ctx, value):
        return format_datetime(value, _lang(ctx))

    env.filters.update({"num": num, "dec": dec, "qty": qty, "mg": mg, "pct": pct, "date": date,
                        "datetime": datetime_})
