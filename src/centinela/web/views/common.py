"""Pieces shared by the page contexts: series, movement rows, scoping and redaction."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.alerts.payload import alert_json
from centinela.ledger.mme import mme_per_unit
from centinela.ledger.records import Movement
from centinela.lib import clock
from centinela.registry.models import Establishment, Product
from centinela.web.codes import code
from centinela.web.evidence import headline
from centinela.web.i18n import current_lang
from centinela.web.names import (
    HIDDEN_PATIENT,
    department_name,
    hide_patients,
    hide_patients_text,
    region_name,
)
from centinela.web.wording import tidy

OUTFLOWS = ("dispense", "administer")
log = logging.getLogger(__name__)


class Point(BaseModel):
    label: str
    value: float


class Series(BaseModel):
    name: str
    points: list[Point]


class AlertRow(BaseModel):
    alert_id: str
    detector: str
    subject_kind: str
    subject_id: str
    severity: str
    score: float
    status: str
    department: str | None
    department_name: str | None
    window_start: str
    window_end: str
    summary: str  # the alert's headline in the reader's language (as on its page)
    routed_to: list[str]
    undelivered: bool = False  # a delivery to an authority failed for good
    subject_name: str | None = None  # a region subject's INEI name ("Puno" for 21)


class MovementRow(BaseModel):
    event_id: str
    event_type: str
    occurred_at: str
    establishment_id: str
    product_code: str
    product_name: str | None
    quantity: float
    counterparty_id: str | None
    lot: str | None
    serial: str | None
    prescriber_id: str | None
    professional_id: str | None
    patient_id: str | None


def lima_iso(value: dt.datetime | None) -> str | None:
    """Render a naive-UTC time in Lima time, ISO 8601 with offset."""
    if value is None:
        return None
    return clock.lima_iso(value, timespec="minutes")


def has_patients(value: Any) -> bool:
    """Return True when ``value`` holds a PSN pseudonym anywhere."""
    if isinstance(value, str):
        return value.startswith("PSN:")
    if isinstance(value, list):
        return any(has_patients(v) for v in value)
    if isinstance(value, dict):
        return any(has_patients(v) for v in value.values())
    return False


def alert_row(alert: Alert, hide: bool = False) -> AlertRow:
    """Return the inbox row of ``alert`` (pseudonyms hidden when ``hide``)."""
    data = alert_json(alert)
    row = AlertRow(
        alert_id=data["alert_id"], detector=data["detector"], subject_kind=data["subject_kind"],
        subject_id=data["subject_id"], severity=data["severity"], score=data["score"],
        status=data["status"], department=data["department"],
        department_name=department_name(data["department"]), window_start=data["window_start"],
        window_end=data["window_end"], summary=data["summary"], routed_to=data["routed_to"],
    )
    if hide:
        row.subject_id = hide_patients(row.subject_id)
        row.summary = hide_patients_text(row.summary)
    if row.subject_kind == "region":
        row.subject_name = region_name(row.subject_id)
    lang = current_lang.get()
    # The headline the alert's page shows, in the reader's language, so both read the same
    # sentence (stored summaries are Spanish, with codes and ISO dates, written per occurrence).
    try:
        row.summary = headline(alert, lang, hide_patients=hide)
    except Exception:  # noqa: BLE001 - odd stored evidence keeps its stored summary
        log.warning("no %s headline for alert %s", lang, alert.alert_id, exc_info=True)
        row.summary = code(row.summary, "es")  # stored summaries may name codes
    row.summary = tidy(row.summary, lang)
    return row


def products(session: Session) -> dict[str, Product]:
    """Return every product keyed by code (the registry is small)."""
    return {p.product_code: p for p in session.scalars(select(Product))}


def movement_row(m: Movement, prods: dict[str, Product], show_patient: bool) -> MovementRow:
    """Return the table row of a movement; the patient column only when ``show_patient``."""
    p = prods.get(m.product_code)
    return MovementRow(
        event_id=m.event_id, event_type=m.event_type, occurred_at=lima_iso(m.occurred_at) or "",
        establishment_id=m.establishment_id, product_code=m.product_code,
        product_name=p.name if p else None, quantity=m.quantity,
        counterparty_id=m.counterparty_id, lot=m.lot, serial=m.serial,
        prescriber_id=m.prescriber_id, professional_id=m.professional_id,
        patient_id=m.patient_id if show_patient else (HIDDEN_PATIENT if m.patient_id else None),
    )


def month_labels(now: dt.datetime, months: int = 12) -> list[str]:
    """Return the last ``months`` month labels ``YYYY-MM`` ending with the month of ``now``."""
    y, m = now.year, now.month
    out = []
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return out[::-1]


def month_start(label: str) -> dt.datetime:
    """Return the first instant of a ``YYYY-MM`` month."""
    return dt.datetime(int(label[:4]), int(label[5:7]), 1)


def month_of(session: Session, column) -> ColumnElement[str]:
    """Return a portable SQL expression for the ``YYYY-MM`` month of a datetime column."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def monthly_mme(session: Session, where: list, labels: list[str], group_by=None,
                prods: dict[str, Product] | None = None,
                join_establishments: bool = False) -> dict[str | None, dict[str, float]]:
    """Return group → month → MME of movements matching ``where`` (one SQL GROUP BY)."""
    prods = prods if prods is not None else products(session)
    month = month_of(session, Movement.occurred_at)
    cols = [month, Movement.product_code, func.sum(Movement.quantity)]
    if group_by is not None:
        cols.insert(0, group_by)
    stmt = select(*cols)
    if join_establishments:
        stmt = stmt.join(Establishment,
                         Establishment.establishment_id == Movement.establishment_id)
    end = month_start(labels[-1])
    end = end.replace(year=end.year + 1, month=1) if end.month == 12 \
        else end.replace(month=end.month + 1)
    stmt = (stmt.where(*where, Movement.occurred_at >= month_start(labels[0]),
                       Movement.occurred_at < end)
            .group_by(*([group_by] if group_by is not None else []), month, Movement.product_code))
    out: dict[str | None, dict[str, float]] = {}
    for row in session.execute(stmt):
        key, rest = (row[0], row[1:]) if group_by is not None else (None, row)
        mon, code, qty = rest
        p = prods.get(code)
        if p is None or mon not in labels:
            continue
        bucket = out.setdefault(key, dict.fromkeys(labels, 0.0))
        bucket[mon] += float(qty or 0) * mme_per_unit(p)
    return out


def series(name: str, by_month: dict[str, float] | None, labels: list[str]) -> Series:
    """Return a monthly series (zeros where nothing moved)."""
    by_month = by_month or {}
    return Series(name=name, points=[Point(label=m, value=round(by_month.get(m, 0.0), 2))
                                     for m in labels])


CACHE_SECONDS = 300
_cache: dict[tuple, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(session: Session, key: tuple, compute: Callable[[], Any]) -> Any:
    """Return ``compute()`` cached for a few minutes per database and newest movement.

    Heavy aggregates (peer groups, the map) are shared by many pages; the newest movement id is
    part of the key, so an import shows up at once.
    """
    newest = session.scalar(select(func.max(Movement.id))) or 0
    full = (str(session.get_bind().url), newest, *key)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(full)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = compute()
    with _cache_lock:
        if len(_cache) > 1000:
            _cache.clear()
        _cache[full] = (now, value)
    return value


def clear_cache() -> None:
    """Forget every cached aggregate (tests, after bulk changes)."""
    with _cache_lock:
        _cache.clear()


def median(values: list[float]) -> float:
    """Return the median (0 for no values)."""
    if not values:
        return 0.0
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
