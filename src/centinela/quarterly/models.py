"""Stored quarterly reports (one row per quarter; regenerating replaces it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base


class QuarterlyReport(Base):
    __tablename__ = "quarterly_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quarter: Mapped[str] = mapped_column(String(6), unique=True)  # e.g. 2026Q3
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)  # the data cut-off passed in
    generated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    generated_by: Mapped[str] = mapped_column(String(80), default="system")
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the figures JSON
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    html: Mapped[str] = mapped_column(Text, default="")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    routing: Mapped[dict] = mapped_column(JSON, default=dict)
