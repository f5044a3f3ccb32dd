"""Numbers, quantities and dates in the reader's language (Babel; times in America/Lima).

Spanish follows CLDR's es-PE conventions (the same rules Babel applies everywhere), English
follows ``en``. Charts use the compact forms ("1,4 M"), evidence tables the full ones.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal, format_percent

LIMA = ZoneInfo("America/Lima")
LOCALES = {"es": "es_PE", "en": "en_US"}


def locale(lang: str) -> str:
    """Return the Babel locale of an interface language."""
    return LOCALES.get(lang, "es_PE")


def format_number(value: float | int | None, lang: str = "es", digits: int | None = None) -> str:
    """Return ``value`` grouped by thousands; ``digits`` fixed decimals (default: up to 2)."""
    if value is None:
        return "—"
    if digits is None:
        digits = 0 if float(value).is_integer() else (1 if abs(value) >= 100 else 2)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale(lang))


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
    """Return a share (0.37) as a percentage."""
    if share is None:
        return "—"
    return format_percent(share, format="#,##0.#%", locale=locale(lang))


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


def format_mg(value: float | None, lang: str = "es") -> str:
    """Return milligrams with one decimal."""
    return format_quantity(value, "mg", lang, 1 if value is not None and value < 1e5 else 0)


def _to_lima(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LIMA)


def format_date(value: dt.date | dt.datetime | str | None, lang: str = "es",
                style: str = "medium") -> str:
    """Return a date (a datetime is first moved to Lima time): "5 ago 2026" / "Aug 5, 2026"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if "T" in value or " " in value \
                else dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = _to_lima(value).date()
    return _babel_date(value, format=style, locale=locale(lang))


def format_datetime(value: dt.datetime | str | None, lang: str = "es") -> str:
    """Return a Lima date and time without seconds or offset."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return _babel_datetime(_to_lima(value), format="d MMM y, HH:mm" if lang != "en"
                           else "MMM d, y, h:mm a", locale=locale(lang))


def format_month(label: str, lang: str = "es", style: str = "medium") -> str:
    """Return a ``YYYY-MM`` month: "ago 26" (short), "ago 2026" (medium), "agosto de 2026"."""
    day = dt.date(int(label[:4]), int(label[5:7]), 1)
    fmt = {"short": "MMM yy", "medium": "MMM y"}.get(
        style, "MMMM 'de' y" if lang != "en" else "MMMM y")
    return _babel_date(day, format=fmt, locale=locale(lang)).replace(".", "")
