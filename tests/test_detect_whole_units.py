"""whole_unit_administrations: a nurse charting whole ampoules where her ward charts a dose and
its residue — beside a ward whose doses are whole ampoules, a nurse with twice the shifts, and
a ward whose nurses differ by habit."""

from __future__ import annotations

import datetime as dt

import numpy as np

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, base_products, est, mv, prof

T0 = dt.datetime(2025, 3, 3, 12, 0)


def _alerts(session):
    return {a.subject_id: a for a in
            session.query(Alert).filter_by(detector="whole_unit_administrations")}


def _ward(session, rng, ward: str, nurses: dict[str, tuple[float, int]]) -> None:
    """``nurses``: id → (share of whole-ampoule doses, administrations)."""
    est(session, ward, kind="hospital")
    for nid, (share, n) in nurses.items():
        prof(session, nid, role="nurse")
        for _j in range(n):
            at = T0 + dt.timedelta(hours=int(rng.integers(0, 24 * 120)))
            whole = rng.random() < share
            dose = 1.0 if whole else float(rng.choice([0.25, 0.5, 0.5, 0.75]))
            mv(session, "administer", ward, FENT_AMP, dose, at, professional_id=nid,
               patient_id=f"PSN:{ward}{int(rng.integers(0, 400))}")
            if not whole:
                mv(session, "waste", ward, FENT_AMP, round(1 - dose, 2),
                   at + dt.timedelta(minutes=10), professional_id=nid, witness_id="CEP-W")


def test_a_nurse_charting_whole_ampoules_above_her_ward_is_flagged(session):
    rng = np.random.default_rng(3)
    base_products(session)
    # ER: ten nurses around 20 % whole ampoules, one with twice the shifts (same habit), the
    # plant at 55 %.
    er = {f"CEP-E{i:02d}": (0.2, 60) for i in range(10)}
    er["CEP-BUSY"] = (0.2, 130)
    er["CEP-X"] = (0.55, 70)
    _ward(session, rng, "ER-1", er)
    # Anaesthesia: whole-ampoule boluses are the ward's habit (70 %).
    _ward(session, rng, "OR-1", {f"CEP-O{i:02d}": (0.7, 50) for i in range(8)})
    # A ward whose nurses differ by habit (10 % to 55 %), none standing out from the spread.
    _ward(session, rng, "W-2", {f"CEP-H{i:02d}": (0.1 + 0.05 * i, 50) for i in range(10)})
    session.commit()
    run_all(session, only=["whole_unit_administrations"], now=T0 + dt.timedelta(days=130))
    found = _alerts(session)
    assert set(found) == {"CEP-X"}
    ev = found["CEP-X"].evidence
    assert ev["observed"] > 0.4 and ev["expected"] < 0.3 and ev["excess_units"] >= 10
    assert ev["establishment_id"] == "ER-1" and ev["robust_z"] >= 3
    assert found["CEP-X"].severity in ("medium", "high", "critical")
    assert "ampollas enteras" in found["CEP-X"].summary
