"""Incremental detection: revisit only the subjects that new movements touched.

The watermark (``detect_state``) records the last movement id a batch run saw. The next
incremental run reads which subjects the newer movements name (establishments as reporter or
counterparty, patients, professionals) with one set-based query and:

- runs the *per-subject* detectors (``PARTITIONS``: a finding on a subject depends only on that
  subject's movements) on a frame holding only those subjects' movements, and stores only
  their findings;
- reruns the other detectors in full: they compare a subject with its peers (peer z-scores,
  regional rates, Benjamini–Hochberg over every series), so one new movement can move every
  subject's verdict. Their inputs are aggregates of the window, recomputed from compact columns.

Limits: a subject nothing new names is not re-judged while the window slides forward (its
stored alert stays as it was); a full run every ``detect_full_every_hours`` (and whenever the
lookback changes) re-judges everyone. A run with nothing new and the same ``now`` does nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from centinela.detect.models import DetectState
from centinela.ledger.records import Movement

STATE = "batch"

# Detector → the subject kind it is partitioned by (findings depend on that subject alone).
PARTITIONS: dict[str, str] = {
    "loss_report": "establishment",
    "unauthorized_receiver": "establishment",
    "uncertified_handler": "professional",
    "dispense_high_mme": "patient",
    "multiple_providers": "patient",
    "overlapping_prescriptions": "patient",
    "high_mme": "patient",
}

_COLUMNS = {
    "establishment": (Movement.establishment_id, Movement.counterparty_id),
    "patient": (Movement.patient_id,),
    "professional": (Movement.professional_id, Movement.prescriber_id, Movement.witness_id),
}


@dataclass
class Plan:
    """What an incremental run does: nothing, everything, or partitions after ``since_id``."""

    mode: str  # "skip" | "full" | "partial"
    since_id: int = 0
    max_id: int = 0
    reason: str = ""


def read_state(session: Session) -> DetectState | None:
    """Return the batch watermark (None before the first recorded run)."""
    return session.get(DetectState, STATE)


def plan(session: Session, now: dt.datetime, lookback_days: int, full_every_hours: float,
         wall: dt.datetime) -> Plan:
    """Decide how much an incremental run at ``now`` must revisit."""
    max_id = session.scalar(select(func.max(Movement.id))) or 0
    state = read_state(session)
    if state is None:
        return Plan("full", 0, max_id, "no previous run recorded")
    if state.lookback_days != lookback_days:
        return Plan("full", state.last_movement_id, max_id, "lookback changed")
    if wall - state.full_at > dt.timedelta(hours=full_every_hours):
        return Plan("full", state.last_movement_id, max_id, "last full run too old")
    if max_id < state.last_movement_id:
        return Plan("full", state.last_movement_id, max_id, "movements were removed")
    if max_id == state.last_movement_id and state.now == now:
        return Plan("skip", state.last_movement_id, max_id, "nothing new")
    return Plan("partial", state.last_movement_id, max_id, "new movements")


def touched_filter(kind: str, ids: set[str]):
    """Movements that name any of ``ids`` (``kind`` subjects) in any of its columns.

    The ids are passed as values, not as a subquery over the new movements: on a partitioned
    table a correlated subquery per row made an incremental run slower than a full one (10 M
    movements: 208 s against 111 s)."""
    if not ids:
        return false()
    wanted = sorted(ids)
    return or_(*(c.in_(wanted) for c in _COLUMNS[kind]))


def touched_serials(session: Session, since_id: int, max_id: int) -> set[str]:
    """Return the serial numbers that movements with id in (since_id, max_id] name."""
    return set(session.scalars(select(Movement.serial).where(
        Movement.id > since_id, Movement.id <= max_id, Movement.serial.is_not(None)).distinct()))


def serials_filter(serials: set[str], now):
    """Every movement up to ``now`` of ``serials`` (nothing when there are none)."""
    if not serials:
        return false()
    return (Movement.serial.in_(sorted(serials))) & (Movement.occurred_at <= now)


def touched_ids(session: Session, kind: str, since_id: int, max_id: int) -> set[str]:
    """Return the ids of ``kind`` subjects named by movements in (since_id, max_id]."""
    new = (Movement.id > since_id) & (Movement.id <= max_id)
    out: set[str] = set()
    for col in _COLUMNS[kind]:
        out.update(v for v in session.scalars(select(col).where(new, col.is_not(None)).distinct()))
    return out


def save_state(session: Session, now: dt.datetime, lookback_days: int, max_id: int,
               wall: dt.datetime, full: bool) -> None:
    """Record the watermark after a run."""
    state = read_state(session)
    if state is None:
        state = DetectState(name=STATE, full_at=wall)
        session.add(state)
    state.last_movement_id = max_id
    state.now = now
    state.lookback_days = lookback_days
    state.ran_at = wall
    if full:
        state.full_at = wall
    session.flush()
