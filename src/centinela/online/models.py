"""Online-market monitoring tables: ingest runs, seen-post hashes, stored posts, leads, feedback.

Privacy by construction: a post classified negative leaves only its idempotency hash in
``online_seen`` (no text, author or identifiers) and a count in its ingest run. Phone numbers and
handles are stored as given only on posts that belong to a lead and in ``online_lead_keys``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

LEAD_STATUSES = ("open", "confirmed", "dismissed")


class OnlineIngestRun(Base):
    __tablename__ = "online_ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    n_read: Mapped[int] = mapped_column(Integer, default=0)
    n_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    n_positive: Mapped[int] = mapped_column(Integer, default=0)
    n_negative: Mapped[int] = mapped_column(Integer, default=0)
    n_leads_touched: Mapped[int] = mapped_column(Integer, default=0)
    model_source: Mapped[str] = mapped_column(String(30), default="")


class OnlineSeen(Base):
    """Idempotency hash of every post ever read (negatives keep nothing else)."""

    __tablename__ = "online_seen"

    post_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    positive: Mapped[bool] = mapped_column(default=False)


class OnlineLead(Base):
    __tablename__ = "online_leads"

    lead_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    max_probability: Mapped[float] = mapped_column(Float, default=0.0)
    n_posts: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    department: Mapped[str | None] = mapped_column(String(2), index=True)
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    places: Mapped[list] = mapped_column(JSON, default=list)
    establishment_ids: Mapped[list] = mapped_column(JSON, default=list)
    substances: Mapped[list] = mapped_column(JSON, default=list)
    platforms: Mapped[list] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    alert_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class OnlineLeadKey(Base):
    """An identifier (phone, handle, payment account, author account) owned by one lead."""

    __tablename__ = "online_lead_keys"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_online_lead_keys_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("online_leads.lead_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    value: Mapped[str] = mapped_column(String(200))


class OnlinePost(Base):
    """A post classified as an offer (kept while its lead needs it, or until retention ends)."""

    __tablename__ = "online_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_key: Mapped[str] = mapped_column(String(40), unique=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    lead_id: Mapped[str | None] = mapped_column(
        ForeignKey("online_leads.lead_id", ondelete="SET NULL"), index=True)
    source_kind: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str] = mapped_column(String(40))
    provenance: Mapped[dict] = mapped_column(JSON, default=dict)
    author: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    text: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    language: Mapped[str] = mapped_column(String(4))
    probability: Mapped[float] = mapped_column(Float)
    substances: Mapped[list] = mapped_column(JSON, default=list)
    explanation: Mapped[dict] = mapped_column(JSON, default=dict)
    entities: Mapped[dict] = mapped_column(JSON, default=dict)


class OnlineFeedback(Base):
    """An analyst's verdict on a post, kept as training data (identifiers masked)."""

    __tablename__ = "online_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str | None] = mapped_column(String(24), index=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class OnlineFeed(Base):
    """A public feed pulled on schedule, with its HTTP validators for conditional GET."""

    __tablename__ = "online_feeds"

    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(300))
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_pulled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
