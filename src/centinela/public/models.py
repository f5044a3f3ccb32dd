"""Tables of the public channels: citizen reports, their timeline and photos, abuse counters,
and the treatment-services directory.

Nothing here identifies a reporter: the follow-up code is stored only as a keyed hash, client
hashes are keyed with a key that rotates daily, and no IP address or user agent is stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

REPORT_KINDS = ("fentanyl_no_rx", "pills", "online_offer", "suspicious_pharmacy", "other")
REPORT_HOWS = ("in_person", "online", "phone", "other")
REPORT_CHANNELS = ("web", "api", "sms", "telegram", "cli")
REPORT_STATUSES = ("received", "in_review", "forwarded", "closed")
SERVICE_KINDS = ("hospital", "csmc", "other")


class CitizenReport(Base):
    """An anonymous citizen report; ``code_hash`` is the only link to its reporter."""

    __tablename__ = "public_reports"
    __table_args__ = (Index("ix_public_reports_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str] = mapped_column(String(24), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(24), index=True)
    how: Mapped[str | None] = mapped_column(String(12))
    ubigeo: Mapped[str] = mapped_column(String(6), index=True)
    department: Mapped[str] = mapped_column(String(2), index=True)
    # Map pin snapped to a ~500 m grid before storage (never the exact point).
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    establishment_name: Mapped[str | None] = mapped_column(String(300))
    establishment_id: Mapped[str | None] = mapped_column(String(40), index=True)
    link_score: Mapped[float | None] = mapped_column(Float)
    # The seller's contact as reported (phone number, handle or URL), normalized for matching.
    contact: Mapped[str | None] = mapped_column(String(300))
    contact_key: Mapped[str | None] = mapped_column(String(200), index=True)
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="received")
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    alert_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ReportEvent(Base):
    """One step of a report's timeline: status change, added information or public note."""

    __tablename__ = "public_report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str] = mapped_column(
        ForeignKey("public_reports.report_id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))  # created, status, info, note
    actor: Mapped[str] = mapped_column(String(80))  # "reporter" or an analyst's username
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportPhoto(Base):
    """A photo re-encoded by Pillow (no EXIF, GPS or text chunks survive)."""

    __tablename__ = "public_report_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str] = mapped_column(
        ForeignKey("public_reports.report_id", ondelete="CASCADE"), index=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
    media_type: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RateEvent(Base):
    """One counted action of a keyed, daily-rotating client hash (rate limiting, nonce reuse)."""

    __tablename__ = "public_rate_events"
    __table_args__ = (Index("ix_public_rate_events_key_at", "bucket", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(24))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class TreatmentService(Base):
    """A place to get help: IPRESS hospitals (seeded) and community mental-health centres."""

    __tablename__ = "treatment_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(12), index=True)
    institution: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(20), default="")
    ubigeo: Mapped[str] = mapped_column(String(6), index=True)
    department: Mapped[str] = mapped_column(String(2), index=True)
    address: Mapped[str] = mapped_column(String(400), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    hours: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(300), default="")
    licence: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by: Mapped[str] = mapped_column(String(80), default="seed")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
