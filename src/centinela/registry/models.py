"""Registry tables: who may hold controlled medicines, who handles them, and what they are."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centinela.db import Base

ESTABLISHMENT_KINDS = (
    "pharmacy", "drugstore", "hospital", "clinic", "distributor", "importer", "manufacturer",
    "laboratory",
)
SECTORS = ("public", "private")
PROFESSIONAL_ROLES = ("prescriber", "pharmacist", "nurse")
DOSAGE_FORMS = ("ampoule", "vial", "patch", "tablet", "lozenge", "spray", "solution")


class Establishment(Base):
    __tablename__ = "establishments"

    establishment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    sector: Mapped[str] = mapped_column(String(10))
    ubigeo: Mapped[str] = mapped_column(String(6), index=True)
    department: Mapped[str] = mapped_column(String(2), index=True)
    ruc: Mapped[str | None] = mapped_column(String(11))
    authorized_controlled: Mapped[bool] = mapped_column(Boolean)
    authorization_expires: Mapped[dt.date | None] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(Integer)


class Professional(Base):
    __tablename__ = "professionals"

    professional_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), index=True)
    full_name: Mapped[str] = mapped_column(String(300))
    specialty: Mapped[str | None] = mapped_column(String(80), index=True)
    establishment_id: Mapped[str | None] = mapped_column(String(40), index=True)
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    department: Mapped[str | None] = mapped_column(String(2), index=True)
    opioid_certified_on: Mapped[dt.date | None] = mapped_column(Date)
    certificate_id: Mapped[str | None] = mapped_column(String(60))
    import_id: Mapped[int | None] = mapped_column(Integer)


class Product(Base):
    __tablename__ = "products"

    product_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    substance: Mapped[str] = mapped_column(String(80), index=True)
    dosage_form: Mapped[str] = mapped_column(String(20))
    strength_mg_per_unit: Mapped[float] = mapped_column(Float)
    patch_mcg_per_hour: Mapped[float | None] = mapped_column(Float)
    units_per_pack: Mapped[int | None] = mapped_column(Integer)
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)  # intake extension
    import_id: Mapped[int | None] = mapped_column(Integer)


class PrescriptionFormBlock(Base):
    """A block of numbered special prescription forms issued to one prescriber (extension).

    A dispense cites its form as ``prescription_id`` = ``series`` + number (leading zeros
    allowed): ``RE-2025-000123`` is number 123 of series ``RE-2025-``.
    """

    __tablename__ = "prescription_form_blocks"
    __table_args__ = (UniqueConstraint("series", "first_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(30), default="")
    first_number: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer)
    prescriber_id: Mapped[str] = mapped_column(String(40), index=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issuer: Mapped[str | None] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(32))
    import_id: Mapped[int | None] = mapped_column(Integer)
