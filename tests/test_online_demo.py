"""The demo's synthetic online export: offers grouped into leads by the sellers' repeated
identifiers, negatives dropped, and a second run a no-op (centinela demo, step 8)."""

from __future__ import annotations

from sqlalchemy import func, select

from centinela.online.demo import SELLERS, demo_rows, seed_demo
from centinela.online.models import OnlineLead


def test_demo_export_makes_grouped_leads_once(session, now, tmp_path):
    rows = demo_rows(now)
    assert len(rows) == 288 and rows == sorted(rows, key=lambda r: r["time"])
    report = seed_demo(session, tmp_path, now)
    assert report.read == 288 and report.positive >= 40 and report.negative >= 200
    session.commit()
    biggest = session.scalar(select(func.max(OnlineLead.n_posts)))
    assert biggest >= 5  # a seller's number or handle repeated across posts links them
    assert session.scalar(select(func.count()).select_from(OnlineLead)) >= len(SELLERS)
    again = seed_demo(session, tmp_path, now)
    assert again.duplicates == 288 and again.positive == 0 and again.leads == []
