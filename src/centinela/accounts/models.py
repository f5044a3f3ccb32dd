"""Account tables: users with one role each, API tokens, police access requests, login attempts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

ROLES = (
    "admin", "national_analyst", "regional_analyst", "police", "prescriber", "pharmacist",
    "institution",  # service account of an institution system, authenticated by API token
    "delegate",  # runs patient lookups on behalf of one prescriber or pharmacist (delegate_of)
    "customs",  # customs / postal officers (SUNAT, SERPOST): the parcel review queue only
)
TOKEN_SCOPES = ("ingest", "alerts:read", "ews:classify")
ACCESS_STATUSES = ("pending", "approved", "denied", "revoked")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    departments: Mapped[list] = mapped_column(JSON, default=list)  # regional analysts
    professional_id: Mapped[str | None] = mapped_column(String(40))  # prescribers, pharmacists
    delegate_of: Mapped[str | None] = mapped_column(String(80))  # delegates: the principal
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A scoped bearer token of an institution's system; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AccessRequest(Base):
    """A police request for one patient's data under a case number, decided by an admin."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester: Mapped[str] = mapped_column(String(80), index=True)
    case_number: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[str] = mapped_column(String(40), index=True)  # PSN pseudonym only
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class LoginAttempt(Base):
    """A sign-in attempt keyed by hashes of the username and of the client (never a raw IP)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A server-side browser session: the cookie holds a random token, only its SHA-256 is kept.

    Logout, a password change or disabling the user revokes the row, so a copied cookie stops
    working at once.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(60))
