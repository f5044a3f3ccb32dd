"""Deliveries that failed for good: shown in the inbox, re-queued from the admin page and the
CLI (issue 11.8)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from typer.testing import CliRunner

from centinela.alerts.authorities import add_channel, seed_authorities
from centinela.alerts.dispatch import dispatch_pending
from centinela.alerts.models import Delivery
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.db import session_factory
from tests.web_support import login


def _failed_alert(session, engine, now) -> str:
    seed_authorities(session)
    add_channel(session, "DIGEMID", "webhook", "http://127.0.0.1:9/nothing-listens",
                secret="s" * 20)
    draft = AlertDraft(detector="loss_report", subject_kind="establishment", subject_id="E-LOST",
                       severity="high", score=70, window_start=now, window_end=now,
                       summary="Robo de 10 ampollas.", department="08", ubigeo="080101",
                       topics=["waste"])
    alert, _ = upsert_alert(session, draft, now=now)
    session.commit()
    dispatch_pending(session_factory(engine), now=now, max_attempts=1, base_backoff_s=1)
    session.expire_all()
    assert session.scalars(select(Delivery.status).where(
        Delivery.alert_id == alert.alert_id)).all().count("failed") == 1
    return alert.alert_id


def test_inbox_shows_undelivered_and_admin_requeues(app, world, session, engine, now):
    alert_id = _failed_alert(session, engine, now)
    admin = login(app, "admin")
    page = admin.get("/alerts?status=all&sort=recent").text
    row = page.split(alert_id)[2].split("</tr>")[0]
    assert "no entregada" in row
    auth = admin.get("/admin/authorities").text
    assert 'id="failed-deliveries"' in auth
    r = admin.post("/admin/deliveries/retry", follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    d = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id,
                                               Delivery.status != "sent")).one()
    assert d.status == "pending" and d.attempts == 0
    assert "no entregada" not in admin.get("/alerts?status=all&sort=recent").text.split(
        alert_id)[2].split("</tr>")[0]


def test_cli_lists_and_requeues_failed_deliveries(db_url, session, engine):
    now = dt.datetime(2025, 6, 1, 12)
    _failed_alert(session, engine, now)
    runner = CliRunner()
    from centinela.cli import app as cli

    listed = runner.invoke(cli, ["outbox", "failed"])
    assert listed.exit_code == 0 and "1 envío(s) fallido(s)" in listed.output
    r = runner.invoke(cli, ["outbox", "retry"])
    assert r.exit_code == 0 and "1 envío(s) reencolado(s)" in r.output
    session.expire_all()
    assert "failed" not in session.scalars(select(Delivery.status)).all()
