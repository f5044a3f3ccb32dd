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
    {{ start|daterange(end) }} 1 dic 2026 → 5 dic 2026, or one date when both are the same day

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
           "format_number", "format_percent", "format_quantity", "register", "to_lima",
           "format_count", "format_compact", "format_percent_value", "format_month", "locale",
           "unit_label", "UNITS", "format_date_range", "format_month_range"]


def _locale(lang: str | None) -> str:
    return LOCALES.get((lang or "es")[:2], "es_PE")


def locale(lang: str) -> str:
    """Return the Babel locale of an interface language."""
    return _locale(lang)


# Peru's official style (SI, INDECOPI's metrology norm; the "1 333,5 mg"): decimal comma
# and a non-breaking space between thousands. CLDR's es_PE uses "1,333.5", so the Spanish
# number is formatted with Babel in the neutral pattern and its separators are swapped.
_ES_SEPARATORS = str.maketrans({",": "\u00a0", ".": ","})


def format_number(value: float | int | None, lang: str = "es", digits: int | None = None) -> str:
    """Return ``value`` with ``digits`` decimals in the language's style ("" for None).

    ``digits=None`` picks them: none for whole numbers, one from 100 up, two below.
    """
    if value is None:
        return ""
    if digits is None:
        digits = 0 if float(value).is_integer() else (1 if abs(value) >= 100 else 2)
    fmt = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    text = bnumbers.format_decimal(value, format=fmt, locale="en_US", group_separator=True)
    return text.translate(_ES_SEPARATORS) if _locale(lang).startswith("es") else text


def format_decimal(value: float | int | None, lang: str = "es", digits: int = 2) -> str:
    """Return ``value`` with exactly ``digits`` decimals (default 2)."""
    return format_number(value, lang, digits)


def format_count(value: float | int | None, lang: str = "es", digits: int = 2) -> str:
    """Return a count of units with up to ``digits`` decimals, none when whole (``2``, ``0,5``)."""
    if value is None:
        return ""
    fmt = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    text = bnumbers.format_decimal(value, format=fmt, locale="en_US", group_separator=True)
    return text.translate(_ES_SEPARATORS) if _locale(lang).startswith("es") else text


def format_mg(value: float | int | None, lang: str = "es", digits: int | None = 1) -> str:
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


def format_compact(value: float, lang: str = "es") -> str:
    """Return a short axis label: 950, 1.234 → 1,2 mil / 1.2K, 1 374 848 → 1,4 M."""
    if abs(value) < 1000:
        digits = 0 if abs(value) >= 10 or float(value).is_integer() else 1
        return format_number(round(value, digits), lang, digits)
    for size, es, en in ((1e9, "mil M", "B"), (1e6, "M", "M"), (1e3, "mil", "K")):
        if abs(value) >= size:
            scaled = value / size
            digits = 0 if float(round(scaled, 1)).is_integer() or abs(scaled) >= 100 else 1
            return f"{format_number(round(scaled, digits), lang, digits)}\u00a0{en if lang == 'en' else es}"
    return format_number(value, lang)


def format_percent_value(share: float | None, lang: str = "es") -> str:
    """Return a share (0.37) as a percentage with up to one decimal ("37 %", "12,5 %")."""
    if share is None:
        return "—"
    value = round(share * 100, 1)
    return format_percent(value, lang, 0 if float(value).is_integer() else 1)


UNITS = {
    "mg": ("mg", "mg"),
    "mme": ("MME", "MME"),
    "units": ("unidades", "units"),
    "unit": ("unidad", "unit"),
    "days": ("días", "days"),
    "per100k": ("por 100 000 hab.", "per 100,000 pop."),
    "mme_per100k": ("MME por 100 000 hab.", "MME per 100,000 pop."),
    "dispensations": ("dispensaciones", "dispensations"),
    "events": ("eventos", "events"),
    "patients": ("pacientes", "patients"),
    "times": ("veces", "times"),
    "mme_day": ("MME/día", "MME/day"),
    "disp_per100k": ("dispensaciones por 100 000 hab.", "dispensations per 100,000 pop."),
}


SINGULAR = {"units": "unit", "days": "day", "patients": "patient", "events": "event"}
UNITS.update({"day": ("día", "day"), "patient": ("paciente", "patient"),
              "event": ("evento", "event")})


def unit_label(unit: str, lang: str = "es") -> str:
    """Return the word of a unit code in ``lang`` (the code itself when unknown)."""
    pair = UNITS.get(unit)
    return (pair[1] if lang == "en" else pair[0]) if pair else unit


def format_quantity(value: float | None, unit: str, lang: str = "es",
                    digits: int | None = None) -> str:
    """Return ``value`` followed by its unit word: "1,333.5 mg", "12 unidades"."""
    if value is None:
        return "—"
    if value == 1 and unit in SINGULAR:
        unit = SINGULAR[unit]
    return f"{format_number(value, lang, digits)}\u00a0{unit_label(unit, lang)}"


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


def format_month(label: str, lang: str = "es", style: str = "medium") -> str:
    """Return a ``YYYY-MM`` month: "ago 26" (short), "ago 2026" (medium), "agosto de 2026"."""
    day = dt.date(int(label[:4]), int(label[5:7]), 1)
    fmt = {"short": "MMM yy", "medium": "MMM y"}.get(
        style, "MMMM 'de' y" if lang != "en" else "MMMM y")
    return bdates.format_date(day, format=fmt, locale=locale(lang)).replace(".", "")


def format_date_range(start: object, end: object, lang: str = "es", sep: str = " → ") -> str:
    """Return two dates as ``start → end`` (Lima dates), or one date when they are the same day."""
    first, last = format_date(start, lang), format_date(end, lang)
    if not first or not last or first == last:
        return first or last
    return f"{first}{sep}{last}"


def format_month_range(first: str, last: str, lang: str = "es", style: str = "long",
                       sep: str = " – ") -> str:
    """Return two ``YYYY-MM`` months as ``first – last``, or one month when they are the same."""
    a, b = format_month(first, lang, style), format_month(last, lang, style)
    return a if a == b else f"{a}{sep}{b}"


def _lang(ctx) -> str:
    return ctx.get("lang") or "es"


def register(env) -> None:
    """Register the filters ``num``, ``dec``, ``qty``, ``mg``, ``pct``, ``date``, ``datetime``
    and ``daterange`` on ``env``."""

    @pass_context
    def num(ctx, value, digits: int = 0):
        return format_number(value, _lang(ctx), digits)

    @pass_context
    def dec(ctx, value, digits: int = 2):
        return format_decimal(value, _lang(ctx), digits)

    @pass_context
    def qty(ctx, value, digits: int = 2):
        return format_count(value, _lang(ctx), digits)

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

    @pass_context
    def daterange(ctx, start, end):
        return format_date_range(start, end, _lang(ctx))

    env.filters.update({"num": num, "dec": dec, "qty": qty, "mg": mg, "pct": pct, "date": date,
                        "datetime": datetime_, "daterange": daterange})
