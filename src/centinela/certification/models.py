"""Certificate table: one opioid-competency certificate held by one professional."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base


class Certificate(Base):
    """A certificate from ``certificates.csv``/``.jsonl`` or ``POST /api/v1/certificates``.

    ``expires_on`` is stored as given; when the source left it empty it is ``issued_on`` plus
    ``certification_valid_days`` at import time (``expiry_derived`` says so).
    """

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("professional_id", "certificate_id", name="uq_certificates_prof_cert"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(60))
    professional_id: Mapped[str] = mapped_column(String(40), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    expiry_derived: Mapped[bool] = mapped_column(default=False)
    course: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
