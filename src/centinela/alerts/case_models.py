"""Case files (a numbered case with assignee, due date, outcome, linked alerts, attachments,
and a log of notes and changes) and the inbox filters each user saves."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

CASE_STATUSES = ("open", "closed")


class Case(Base):
    """A case an authority can act on: number, assignee, due date, outcome, linked alerts."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # CEN-2026-000123
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(2), index=True)
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    outcome: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CaseAlert(Base):
    """An alert linked to a case (an alert belongs to at most one case)."""

    __tablename__ = "case_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    alert_id: Mapped[str] = mapped_column(String(40), unique=True)
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    linked_by: Mapped[str] = mapped_column(String(80))


class CaseEntry(Base):
    """One line of a case's log: a note, an assignment, a due date, a link, a file, the close."""

    __tablename__ = "case_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")


class CaseAttachment(Base):
    """A file attached to a case, stored under ``<data_dir>/case-files/`` by content hash."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SavedFilter(Base):
    """An inbox filter a user saved under a name (the query string of the inbox)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_saved_filters_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
