"""Benjamini–Hochberg as the statistical detectors apply it."""

from __future__ import annotations

from centinela.detect.scoring import bh_keep


def test_bh_keeps_the_step_up_set_and_counts_unscored_tests():
    p = [0.01, 0.04, 0.03, 0.5]
    # Sorted thresholds q·i/m for m = 4: 0.0125, 0.025, 0.0375, 0.05 → only 0.01 survives.
    assert bh_keep(p).tolist() == [True, False, False, False]
    # Step-up: 0.02 ≤ 0.025 carries 0.01 with it even though the largest passing rank is 2.
    assert bh_keep([0.02, 0.011, 0.9]).tolist() == [True, True, False]
    # Tests screened out before scoring count as p = 1 and raise the bar: m = 8 keeps none.
    assert not bh_keep(p, n_tests=8).any()
    assert bh_keep([]).tolist() == []
