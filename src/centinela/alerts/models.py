"""Alert, authority, channel, outbox and case tables.

Detection only writes ``alerts`` rows (and ``deliveries`` rows, one per routed channel, status
``pending``); the dispatcher claims pending deliveries with a conditional UPDATE and records
every attempt.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

SEVERITIES = ("low", "medium", "high", "critical")
SUBJECT_KINDS = ("professional", "establishment", "patient", "region", "shipment", "serial", "lot")
STATUSES = ("new", "triaged", "audit_scheduled", "closed")
OUTCOMES = ("confirmed", "justified", "false_positive")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
        Index("ix_alerts_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(40), unique=True)
    dedup_key: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str] = mapped_column(String(60), index=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(120), index=True)
    department: Mapped[str | None] = mapped_column(String(2), index=True)
    ubigeo: Mapped[str | None] = mapped_column(String(6))  # district, for DIRIS-level routing
    severity: Mapped[str] = mapped_column(String(10), index=True)
    score: Mapped[float] = mapped_column(Float)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime)
    window_end: Mapped[dt.datetime] = mapped_column(DateTime)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    routed_to: Mapped[list] = mapped_column(JSON, default=list)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="new")
    outcome: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Authority(Base):
    """A competent authority that receives alerts for its jurisdiction and topics."""

    __tablename__ = "authorities"

    authority_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # regulator, regional_health, diris, police, ...
    departments: Mapped[list] = mapped_column(JSON, default=list)  # [] = national
    # Finer jurisdiction as ubigeo prefixes (4-digit provinces, 6-digit districts), and the
    # prefixes carved out of it (Lima department minus Lima province, served by the DIRIS).
    areas: Mapped[list] = mapped_column(JSON, default=list)
    exclude_areas: Mapped[list] = mapped_column(JSON, default=list)
    topics: Mapped[list] = mapped_column(JSON, default=list)  # [] = every topic
    min_severity: Mapped[str] = mapped_column(String(10), default="low")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Channel(Base):
    """How an authority is reached: ``email``, ``webhook`` or ``outbox`` (stored only)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority_id: Mapped[str] = mapped_column(ForeignKey("authorities.authority_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """Outbox row: one alert (or bulletin) to deliver through one channel."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str | None] = mapped_column(String(40), index=True)
    payload_kind: Mapped[str] = mapped_column(String(20), default="alert")
    ref: Mapped[str | None] = mapped_column(String(120), index=True)  # bulletin id for dedup
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sending, sent, failed
    severity: Mapped[str | None] = mapped_column(String(10))  # severity notified (re-notify on rise)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")


class CaseEvent(Base):
    """A case action on an alert: triage, audit scheduled, closed with outcome, note."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
