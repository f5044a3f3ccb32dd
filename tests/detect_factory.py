"""Tiny builders of registry rows and movements for detection and alert tests."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.registry.models import Establishment, Product, Professional

_seq = itertools.count(1)

FENT_AMP = "FEN-AMP"  # fentanyl 0.1 mg ampoule (30 MME)
FENT_PATCH = "FEN-P25"  # fentanyl 25 mcg/h patch
MORPH_TAB = "MOR-30"  # morphine 30 mg tablet


def base_products(session: Session) -> None:
    """Add three common presentations."""
    session.add_all([
        Product(product_code=FENT_AMP, name="Fentanilo 0.05 mg/mL x 2 mL", substance="fentanyl",
                dosage_form="ampoule", strength_mg_per_unit=0.1),
        Product(product_code=FENT_PATCH, name="Fentanilo parche 25 mcg/h", substance="fentanyl",
                dosage_form="patch", strength_mg_per_unit=4.2, patch_mcg_per_hour=25),
        Product(product_code=MORPH_TAB, name="Morfina 30 mg tableta", substance="morphine",
                dosage_form="tablet", strength_mg_per_unit=30),
    ])
    session.flush()


def est(session: Session, eid: str, kind: str = "pharmacy", ubigeo: str = "150101",
        authorized: bool = True, expires: dt.date | None = None) -> str:
    """Add an establishment and return its id."""
    session.add(Establishment(establishment_id=eid, name=eid, kind=kind, sector="private",
                              ubigeo=ubigeo, department=ubigeo[:2], authorized_controlled=authorized,
                              authorization_expires=expires))
    session.flush()
    return eid


def prof(session: Session, pid: str, role: str = "prescriber", specialty: str | None = None,
         est_id: str | None = None, certified: dt.date | None = None, ubigeo: str = "150101") -> str:
    """Add a professional and return its id."""
    session.add(Professional(professional_id=pid, role=role, full_name=pid, specialty=specialty,
                             establishment_id=est_id, ubigeo=ubigeo, department=ubigeo[:2],
                             opioid_certified_on=certified))
    session.flush()
    return pid


def mv(session: Session, event_type: str, est_id: str, product: str, qty: float,
       at: dt.datetime, **kw) -> Movement:
    """Add one movement (event_id generated unless given) and return it."""
    n = next(_seq)
    m = Movement(event_id=kw.pop("event_id", f"EV-{n:07d}"), event_type=event_type,
                 occurred_at=at, establishment_id=est_id, product_code=product, quantity=qty,
                 content_hash=f"{n:032d}", **kw)
    session.add(m)
    return m


def days(start: dt.datetime, n: int) -> dt.datetime:
    """Return ``start`` plus ``n`` days."""
    return start + dt.timedelta(days=n)
