"""The detection watermark: what the last batch run saw, for incremental runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base


class DetectState(Base):
    """One row per kind of run (``batch``): the last movement id it had seen and when."""

    __tablename__ = "detect_state"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_movement_id: Mapped[int] = mapped_column(Integer, default=0)
    now: Mapped[dt.datetime] = mapped_column(DateTime)  # the 'now' judged
    lookback_days: Mapped[int] = mapped_column(Integer)
    ran_at: Mapped[dt.datetime] = mapped_column(DateTime)
    full_at: Mapped[dt.datetime] = mapped_column(DateTime)  # last full run (wall clock)
