"""MME and days covered: one home (``centinela.ledger.mme``), scalar and vectorized agree."""

from __future__ import annotations

import numpy as np
import pytest

from centinela.ledger.mme import (
    daily_mme,
    days_covered,
    days_covered_many,
    mme_per_unit,
    unit_mme,
)
from centinela.registry.models import Product


def test_unit_mme_by_route():
    assert unit_mme("morphine", "tablet", 30).mme_per_unit == pytest.approx(30)
    assert unit_mme("fentanyl", "ampoule", 0.1).route == "parenteral"
    patch = unit_mme("fentanyl", "patch", 4.2, 25)
    assert patch.route == "transdermal" and patch.mme_per_unit == pytest.approx(2.4 * 25 * 3)
    assert unit_mme("diazepam", "tablet", 10).mme_per_unit == 0.0  # no morphine equivalent


def test_days_covered_prefers_the_days_supply_else_a_conservative_reading():
    tab, patch = unit_mme("morphine", "tablet", 30), unit_mme("fentanyl", "patch", 4.2, 25)
    assert days_covered(tab, 20, 10) == 10
    assert days_covered(tab, 20, None) == 20  # one day a unit
    assert days_covered(patch, 5, None) == 15  # three days a patch
    assert daily_mme(tab, 20, 10) == pytest.approx(60)


def test_vectorized_days_covered_matches_the_scalar_rule():
    units = [unit_mme("morphine", "tablet", 30), unit_mme("fentanyl", "patch", 4.2, 25)]
    cases = [(u, q, d) for u in units for q in (0.5, 1, 10) for d in (None, 0, 7)]
    patch = np.array([u.route == "transdermal" for u, _, _ in cases])
    qty = np.array([q for _, q, _ in cases], dtype=float)
    supply = np.array([np.nan if d is None else d for _, _, d in cases], dtype=float)
    expected = [days_covered(u, q, d) for u, q, d in cases]
    assert days_covered_many(patch, qty, supply).tolist() == pytest.approx(expected)


def test_mme_of_a_registry_product():
    p = Product(product_code="X", name="x", substance="oxycodone", dosage_form="tablet",
                strength_mg_per_unit=10)
    assert mme_per_unit(p) == pytest.approx(15)
