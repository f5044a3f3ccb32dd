"""The core records of the ledger: movements, seizures, the imports they came from and the
records refused, with the movement types and their stock signs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base
from centinela.reference.events import EVENT_TYPES, STOCK_SIGN

__all__ = ["EVENT_TYPES", "STOCK_SIGN", "ImportRun", "Movement", "Rejection", "Seizure"]

# Movement types (spec table "event_type") and what each does to the stock on hand: one copy,
# in ``reference.events`` (no database import, so the import's validating child reads it too).


def _partial(name: str, *columns: str) -> Index:
    """An index over the rows where the first column is set (SQLite and PostgreSQL)."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class ImportRun(Base):
    """One import: a directory, an uploaded file or an API batch."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(20))  # cli, api, upload
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_by: Mapped[str | None] = mapped_column(String(80))


class Movement(Base):
    """One accepted movement of controlled units. ``patient_id`` is always a PSN pseudonym."""

    __tablename__ = "movements"
    __table_args__ = (
        UniqueConstraint("establishment_id", "event_id", name="uq_movements_reporter_event"),
        Index("ix_movements_est_product_time", "establishment_id", "product_code", "occurred_at"),
        # Sparse columns get partial indexes (equality and IN queries still use them): smaller,
        # and a national bulk load rebuilds them faster.
        _partial("ix_movements_prescriber_time", "prescriber_id", "occurred_at"),
        _partial("ix_movements_patient_time", "patient_id", "occurred_at"),
        # PostgreSQL leaves the majority types out (migration 0018): their queries read whole
        # months anyway, and every month's bulk build then sorts a third of the rows.
        Index("ix_movements_type_time", "event_type", "occurred_at",
              postgresql_where=text("event_type NOT IN ('dispense', 'administer')")),
        # Rows arrive import by import: on PostgreSQL a BRIN summary finds one import's rows
        # without a sort at every month's build (migration 0018).
        Index("ix_movements_import_id", "import_id", postgresql_using="brin"),
        _partial("ix_movements_counterparty_id", "counterparty_id"),
        _partial("ix_movements_serial", "serial"),
        _partial("ix_movements_professional_id", "professional_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # On PostgreSQL the indexed text columns are COLLATE "C" (migration 0014: byte order, for
    # faster index builds); the models describe the portable table (docs/scale.md).
    event_id: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    establishment_id: Mapped[str] = mapped_column(String(40))
    product_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[float] = mapped_column(Float)
    counterparty_id: Mapped[str | None] = mapped_column(String(40))
    lot: Mapped[str | None] = mapped_column(String(60), index=True)
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    serial: Mapped[str | None] = mapped_column(String(80))
    prescription_id: Mapped[str | None] = mapped_column(String(60))
    prescriber_id: Mapped[str | None] = mapped_column(String(40))
    professional_id: Mapped[str | None] = mapped_column(String(40))
    patient_id: Mapped[str | None] = mapped_column(String(40))
    patient_sex: Mapped[str | None] = mapped_column(String(1))
    patient_birth_year: Mapped[int | None] = mapped_column(Integer)
    patient_ubigeo: Mapped[str | None] = mapped_column(String(6))
    days_supply: Mapped[int | None] = mapped_column(Integer)
    witness_id: Mapped[str | None] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)


class Seizure(Base):
    """A seizure or forensic identification (early-warning input)."""

    __tablename__ = "seizures"

    seizure_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ubigeo: Mapped[str] = mapped_column(String(6), index=True)
    agency: Mapped[str] = mapped_column(String(40))
    context: Mapped[str | None] = mapped_column(String(20))
    substance: Mapped[str | None] = mapped_column(String(120))
    smiles: Mapped[str | None] = mapped_column(Text)
    form: Mapped[str | None] = mapped_column(String(20))
    units: Mapped[float | None] = mapped_column(Float)
    net_mass_mg: Mapped[float | None] = mapped_column(Float)
    purity_percent: Mapped[float | None] = mapped_column(Float)
    product_code: Mapped[str | None] = mapped_column(String(40))
    lot: Mapped[str | None] = mapped_column(String(60), index=True)
    serial: Mapped[str | None] = mapped_column(String(80), index=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)


class Rejection(Base):
    """A record that was not accepted, kept with where and why (never silently dropped).

    ``record`` holds the raw fields with any patient document replaced by its pseudonym.
    ``kind`` is ``invalid`` or ``conflict`` (same id, different content).
    """

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    line: Mapped[int | None] = mapped_column(Integer)
    record_type: Mapped[str] = mapped_column(String(20))
    record_key: Mapped[str | None] = mapped_column(String(120))
    field: Mapped[str | None] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20), default="invalid")
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
