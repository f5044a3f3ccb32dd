"""Early-warning tables. ``signals`` is open to every source (seizure, overdose, online, citizen)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

SIGNAL_SOURCES = ("seizure", "lab", "overdose", "online", "citizen", "detection")


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("source_kind", "source_id", name="uq_signals_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(20), index=True)
    source_id: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    department: Mapped[str | None] = mapped_column(String(2), index=True)
    substance: Mapped[str | None] = mapped_column(String(120), index=True)
    inchikey: Mapped[str | None] = mapped_column(String(27), index=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)


OVERDOSE_SETTINGS = ("emergency_department", "icu", "death", "prehospital", "other")
OVERDOSE_OUTCOMES = ("recovered", "hospitalized", "transferred", "died", "unknown")
OVERDOSE_ROUTES = ("injected", "smoked", "snorted", "oral", "transdermal", "other", "unknown")


class Overdose(Base):
    """An overdose or poisoning event (pseudonymous: no names, no documents, age in bands)."""

    __tablename__ = "ews_overdoses"
    __table_args__ = (UniqueConstraint("reporter", "event_id", name="uq_ews_overdoses_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter: Mapped[str] = mapped_column(String(60), index=True)
    event_id: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    ubigeo: Mapped[str] = mapped_column(String(6))
    department: Mapped[str] = mapped_column(String(2), index=True)
    setting: Mapped[str] = mapped_column(String(30))
    suspected_substances: Mapped[list] = mapped_column(JSON, default=list)
    confirmed_substances: Mapped[list] = mapped_column(JSON, default=list)
    confirmed_inchikeys: Mapped[list] = mapped_column(JSON, default=list)
    naloxone_given: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(20))
    age_band: Mapped[str | None] = mapped_column(String(10))
    sex: Mapped[str | None] = mapped_column(String(1))
    route: Mapped[str | None] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)


class Bulletin(Base):
    """A numbered EWS risk-communication bulletin (EWS-2025-0001), stored as HTML and PDF."""

    __tablename__ = "ews_bulletins"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_ews_bulletins_year_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    title: Mapped[str] = mapped_column(String(300))
    substance: Mapped[str | None] = mapped_column(String(120))
    inchikey: Mapped[str | None] = mapped_column(String(27))
    category: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    departments: Mapped[list] = mapped_column(JSON, default=list)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime)
    window_end: Mapped[dt.datetime] = mapped_column(DateTime)
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    html: Mapped[str] = mapped_column(Text, default="")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    alert_ids: Mapped[list] = mapped_column(JSON, default=list)
    routing: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80), default="system")
