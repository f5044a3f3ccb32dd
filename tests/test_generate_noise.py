"""Realistic-noise mode: the quirks are there, at their rates, and the files still import."""

from __future__ import annotations

import csv
import datetime as dt

from centinela.generate import generate
from centinela.generate.noise import RATES
from centinela.ingest.service import import_directory


def _rows(path):
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_noise_mode_produces_each_quirk_and_imports_cleanly(tmp_path, engine):
    out = tmp_path / "noisy"
    report = generate(out, seed=3, scale=0.03, noise=True)
    q = report.quirks
    for name in ("count_stamped_early_hospitals", "count_stamped_next_morning", "count_late_days",
                 "night_waste_without_witness", "receipt_days_later", "receipt_split",
                 "transfer_out_after_receipt", "late_reported_days"):
        assert q[name] > 0, name
    rows = _rows(out / "movements.csv")
    ids = [r["event_id"] for r in rows]
    assert len(ids) > len(set(ids))  # a day re-sent whole
    assert any(i.endswith("-2") for i in ids)  # a receipt booked in two parts
    times = [dt.datetime.fromisoformat(r["occurred_at"]) for r in rows]
    assert any(b < a - dt.timedelta(days=4) for a, b in zip(times, times[1:], strict=False))  # back-filled
    last = max(times)
    assert last.day != 30 and last.day != 31  # the year ends part-way through a month
    # Night wastes lose their witness at about the documented rate (binomial ± 5 sd).
    night = [r for r in rows if r["event_type"] == "waste" and r["professional_id"]
             and (int(r["occurred_at"][11:13]) >= 22 or int(r["occurred_at"][11:13]) < 6)]
    n, k = len(night), sum(1 for r in night if not r["witness_id"])
    rate = RATES["night_waste_without_witness"]
    assert n > 20 and abs(k - n * rate) <= 5 * (n * rate * (1 - rate)) ** 0.5 + 3
    # Every row is valid: re-sent rows are no-op duplicates, nothing is rejected.
    rep = import_directory(engine, out, realtime=False)
    mv = next(f for f in rep.files if f.name.startswith("movements"))
    assert mv.rejected == 0 and mv.conflicts == 0 and mv.duplicates > 0


def test_clean_mode_is_unchanged_by_the_noise_option(tmp_path):
    a = generate(tmp_path / "a", seed=4, scale=0.02, days=45)
    b = generate(tmp_path / "b", seed=4, scale=0.02, days=45, noise=False)
    assert (tmp_path / "a" / "movements.csv").read_bytes() == (tmp_path / "b" / "movements.csv").read_bytes()
    assert a.quirks == {} and b.quirks == {}
