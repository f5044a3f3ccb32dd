"""The detection watermark: what the last batch run saw, for incremental runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, String
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
    # Imports the run could not see yet (they commit out of id order): the highest import id
    # it saw and the lower ids missing below it (in flight, or failed). The next incremental run
    # re-reads the movements of those that have committed since, whatever their ids.
    imports_upto: Mapped[int | None] = mapped_column(Integer, nullable=True)
    import_gaps: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
