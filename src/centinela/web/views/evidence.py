"""Long evidence in pages with totals and a CSV download: the movements behind an alert or a
profile, and a lot's (or serial's) custody as a flow importer → distributor → establishment →
patient or seizure with the quantities of each step."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import csvsafe
from centinela.ledger.records import Movement, Seizure
from centinela.registry.models import Establishment
from centinela.web.views.common import MovementRow, movement_row, products

PAGE_SIZE = 25
CSV_MAX = 100_000
CSV_COLUMNS = ("event_id", "event_type", "occurred_at", "establishment_id", "product_code",
               "product_name", "quantity", "counterparty_id", "lot", "serial", "prescriber_id",
               "professional_id", "patient_id")
# Custody stages in the order a unit travels, and the establishment kinds of each.
STAGES = ("importer", "distributor", "establishment", "end")
STAGE_OF_KIND = {"importer": "importer", "manufacturer": "importer", "laboratory": "importer",
                 "distributor": "distributor"}
INFLOWS = ("import", "receipt", "transfer_in")
ONWARD = ("transfer_out", "export")
TO_PATIENT = ("dispense", "administer")
LOST = ("waste", "loss")


class MovementPage(BaseModel):
    rows: list[MovementRow]
    total: int
    page: int
    pages: int
    first: int
    last: int
    per_page: int


def movement_page(session: Session, where: list, page: int, show_patient: bool,
                  per_page: int = PAGE_SIZE, oldest_first: bool = False) -> MovementPage:
    """Return one page of the movements matching ``where`` with the total count."""
    total = session.scalar(select(func.count()).select_from(Movement).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    order = (Movement.occurred_at.asc() if oldest_first else Movement.occurred_at.desc(),
             Movement.id.asc() if oldest_first else Movement.id.desc())
    moves = session.scalars(select(Movement).where(*where).order_by(*order)
                            .offset((page - 1) * per_page).limit(per_page)).all()
    prods = products(session)
    rows = [movement_row(m, prods, show_patient) for m in moves]
    first = (page - 1) * per_page + 1 if rows else 0
    return MovementPage(rows=rows, total=total, page=page, pages=pages, first=first,
                        last=first + len(rows) - 1 if rows else 0, per_page=per_page)


def movements_csv(session: Session, where: list, show_patient: bool,
                  oldest_first: bool = False) -> str:
    """Return every movement matching ``where`` as CSV (formula-neutralised cells)."""
    order = Movement.occurred_at.asc() if oldest_first else Movement.occurred_at.desc()
    prods = products(session)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in session.scalars(select(Movement).where(*where).order_by(order, Movement.id)
                             .limit(CSV_MAX)):
        row = movement_row(m, prods, show_patient).model_dump()
        writer.writerow(csvsafe.row(row[c] for c in CSV_COLUMNS))
    return out.getvalue()


class FlowStep(BaseModel):
    stage: str  # importer, distributor, establishment, patient, seizure, loss
    holders: list[str]
    received: float
    sent_on: float
    to_patients: float
    lost: float
    seized: float


class CustodyFlow(BaseModel):
    steps: list[FlowStep]
    product_codes: list[str]


def custody_flow(session: Session, where: list, kind: str, subject_id: str) -> CustodyFlow:
    """Return the custody of a lot or serial as quantities per step (one GROUP BY)."""
    rows = session.execute(
        select(Movement.establishment_id, Establishment.kind, Movement.event_type,
               Movement.product_code, func.sum(Movement.quantity))
        .outerjoin(Establishment, Establishment.establishment_id == Movement.establishment_id)
        .where(*where)
        .group_by(Movement.establishment_id, Establishment.kind, Movement.event_type,
                  Movement.product_code)).all()
    acc = {s: FlowStep(stage=s, holders=[], received=0, sent_on=0, to_patients=0, lost=0,
                       seized=0) for s in STAGES[:3]}
    codes: list[str] = []
    for est, est_kind, event, code, qty in rows:
        step = acc[STAGE_OF_KIND.get(est_kind or "", "establishment")]
        if est not in step.holders:
            step.holders.append(est)
        if code not in codes:
            codes.append(code)
        q = float(qty or 0)
        if event in INFLOWS:
            step.received += q
        elif event in ONWARD:
            step.sent_on += q
        elif event in TO_PATIENT:
            step.to_patients += q
        elif event in LOST:
            step.lost += q
    column = Seizure.serial if kind == "serial" else Seizure.lot
    seized = session.execute(select(func.count(), func.sum(Seizure.units))
                             .where(column == subject_id)).one()
    steps = [s for s in acc.values() if s.holders]
    patients = sum(s.to_patients for s in steps)
    lost = sum(s.lost for s in steps)
    end = FlowStep(stage="end", holders=[], received=0, sent_on=0, to_patients=patients,
                   lost=lost, seized=float(seized[1] or 0) if seized[0] else 0)
    if seized[0]:
        end.holders = [f"{seized[0]}"]
    return CustodyFlow(steps=[*steps, end], product_codes=codes)


class CustodyView(BaseModel):
    flow: CustodyFlow
    movements: MovementPage


def custody_where(session: Session, scope: list[str] | None, kind: str, subject_id: str) -> list:
    """Return the WHERE clauses of a lot's or serial's movements inside the user's reach."""
    from centinela.web.views.subjects import subject_where

    where = subject_where(session, kind, subject_id)
    if scope is not None:
        where.append(Movement.establishment_id.in_(
            select(Establishment.establishment_id).where(Establishment.department.in_(scope))))
    return where


def custody_view(session: Session, scope: list[str] | None, kind: str, subject_id: str,
                 page: int) -> CustodyView:
    """Return the custody flow and one page of the custody timeline (oldest first)."""
    where = custody_where(session, scope, kind, subject_id)
    return CustodyView(flow=custody_flow(session, where, kind, subject_id),
                       movements=movement_page(session, where, page, False, oldest_first=True))
