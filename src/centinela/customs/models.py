"""Customs tables: declared parcels (pseudonymous consignees), their X-ray images, outcomes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

OUTCOMES = ("cleared", "inspected_negative", "seized")


class Parcel(Base):
    """One declared courier/postal parcel; consignee name, address and phone only as keyed hashes."""

    __tablename__ = "customs_parcels"
    __table_args__ = (
        Index("ix_customs_parcels_combined", "combined_score"),
        Index("ix_customs_parcels_consignee_time", "consignee_key", "arrived_at"),
    )

    tracking_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(40))
    arrived_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC
    origin_country: Mapped[str] = mapped_column(String(2), index=True)
    origin_city: Mapped[str] = mapped_column(String(80), default="")
    transit: Mapped[list] = mapped_column(JSON, default=list)
    sender_name: Mapped[str] = mapped_column(String(200))
    sender_key: Mapped[str] = mapped_column(String(40), index=True)
    sender_phone_key: Mapped[str | None] = mapped_column(String(40))
    consignee_key: Mapped[str] = mapped_column(String(40))
    consignee_address_key: Mapped[str | None] = mapped_column(String(40), index=True)
    consignee_phone_key: Mapped[str | None] = mapped_column(String(40), index=True)
    ubigeo: Mapped[str] = mapped_column(String(6), index=True)
    declared_content: Mapped[str] = mapped_column(String(300))
    hs_code: Mapped[str | None] = mapped_column(String(12))
    declared_value_usd: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float] = mapped_column(Float)
    length_cm: Mapped[float | None] = mapped_column(Float)
    width_cm: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Triage (written by ``centinela customs triage``)
    manifest_score: Mapped[float | None] = mapped_column(Float)
    image_score: Mapped[float | None] = mapped_column(Float)
    combined_score: Mapped[float | None] = mapped_column(Float)
    factors: Mapped[list] = mapped_column(JSON, default=list)
    regions: Mapped[list] = mapped_column(JSON, default=list)
    scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    model_version: Mapped[str | None] = mapped_column(String(80))
    # Review
    outcome: Mapped[str | None] = mapped_column(String(20), index=True)
    outcome_by: Mapped[str | None] = mapped_column(String(80))
    outcome_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    seizure_id: Mapped[str | None] = mapped_column(String(80))


class ParcelImage(Base):
    """The X-ray image of a parcel (``.npz`` with ``high``/``low`` channels, or a grey PNG)."""

    __tablename__ = "customs_images"

    tracking_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fmt: Mapped[str] = mapped_column(String(8))  # npz, npy, png
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime)
