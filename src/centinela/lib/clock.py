"""One clock for Centinela: naive UTC in storage, America/Lima for people.

Every stored time is naive UTC. Peru keeps UTC−05:00 all year (no daylight saving), so Lima's
calendar day and the offset are fixed arithmetic; a time written without an offset (the spec's
files, ``--now``, forms) means Lima time.
"""

from __future__ import annotations

import datetime as dt

UTC_OFFSET = dt.timedelta(hours=-5)
"""Lima time = UTC + ``UTC_OFFSET`` (America/Lima is UTC−05:00 all year)."""
LIMA_OFFSET_S = -5 * 3600
"""``UTC_OFFSET`` in seconds, for epoch arithmetic (``(t + LIMA_OFFSET_S) // 86400``)."""
LIMA = dt.timezone(UTC_OFFSET)
"""America/Lima as a fixed-offset ``tzinfo``."""


def utcnow() -> dt.datetime:
    """Return the current time as naive UTC (how every time is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as naive UTC; a naive ``value`` is read as Lima time."""
    if value.tzinfo is None:
        return value - UTC_OFFSET
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def parse_time(text: str) -> dt.datetime:
    """Parse ISO 8601 (``Z``, an offset, or none meaning Lima; a bare date is Lima midnight)
    into naive UTC. Raise ``ValueError`` when ``text`` is not ISO 8601."""
    return to_utc(dt.datetime.fromisoformat(text.strip()))


def to_lima(value: dt.datetime) -> dt.datetime:
    """Return a naive-UTC ``value`` as an aware Lima time."""
    return value.replace(tzinfo=dt.UTC).astimezone(LIMA)


def lima_iso(value: dt.datetime, timespec: str = "auto") -> str:
    """Render a naive-UTC ``value`` as ISO 8601 in Lima time, with its ``-05:00`` offset."""
    return to_lima(value).isoformat(timespec=timespec)


def lima_day(value: dt.datetime) -> dt.date:
    """Return the Lima calendar date of a naive-UTC ``value``."""
    return (value + UTC_OFFSET).date()


def lima_midnight(day: dt.date) -> dt.datetime:
    """Return the naive-UTC instant at which Lima's ``day`` begins."""
    return dt.datetime.combine(day, dt.time()) - UTC_OFFSET


def lima_days(day: dt.date, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """Return the naive-UTC bounds (first and last second) of ``days`` Lima days from ``day``."""
    start = lima_midnight(day)
    return start, start + dt.timedelta(days=days) - dt.timedelta(seconds=1)
