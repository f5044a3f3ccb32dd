"""Ledger tables beside the movements: periodic balances reported by establishments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base


class PeriodicBalance(Base):
    """An establishment's periodic balance of one controlled product (extension file).

    The official book of narcotics and psychotropics closes each period with opening stock,
    receipts, issues and closing stock per product; ``balances.csv`` carries it.
    """

    __tablename__ = "periodic_balances"
    __table_args__ = (UniqueConstraint("establishment_id", "product_code", "period_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    establishment_id: Mapped[str] = mapped_column(String(40), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date, index=True)
    opening_units: Mapped[float] = mapped_column(Float)
    receipts_units: Mapped[float] = mapped_column(Float)
    issues_units: Mapped[float] = mapped_column(Float)
    closing_units: Mapped[float] = mapped_column(Float)
    department: Mapped[str] = mapped_column(String(2), index=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)


class KeyCheck(Base):
    """A keyed digest of a secret the stored data depends on (``pseudonym``: the patient
    pseudonym key), never the secret: an import made with another key would link no patient
    to their history, so it is refused (``ingest.service``)."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
