"""Outbox dispatch against a real local SMTP server and a real local HTTP server."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from centinela.alerts.authorities import add_channel, seed_authorities
from centinela.alerts.channels.webhook import verify
from centinela.alerts.dispatch import dispatch_pending
from centinela.alerts.models import Alert, Channel, Delivery, DeliveryAttempt
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.config import get_settings
from centinela.db import session_factory

NOW = dt.datetime(2025, 6, 1, 12)
SECRET = "webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alert(session, subject="E1", severity="high"):
    draft = AlertDraft(detector="loss_report", subject_kind="establishment", subject_id=subject,
                       severity=severity, score=70, window_start=NOW, window_end=NOW,
                       summary="Robo de 10 ampollas.", department="08", ubigeo="080101",
                       topics=["waste"])
    alert, _ = upsert_alert(session, draft, now=NOW)
    return alert


class _Hook:
    """A local webhook receiver that checks the HMAC signature; can be 'down' (503) or 'gone'."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.mode = "up"
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(SECRET, self.headers["X-Centinela-Timestamp"], body,
                            self.headers["X-Centinela-Signature"])
                code = {"up": 200 if ok else 401, "down": 503, "gone": 410}[hook.mode]
                if code == 200:
                    hook.received.append(json.loads(body))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/centinela"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def hook():
    h = _Hook()
    yield h
    h.close()


@contextlib.contextmanager
def _smtp_server(monkeypatch):
    """A real local SMTP server (aiosmtpd) the settings point at; yields its received mail."""
    messages: list = []

    class Handler:
        async def handle_DATA(self, server, smtp_session, envelope):  # noqa: N802
            messages.append(envelope)
            return "250 OK"

    port = _free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        monkeypatch.setenv("CENTINELA_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CENTINELA_SMTP_PORT", str(port))
        get_settings.cache_clear()
        yield messages
    finally:
        ctl.stop()


def test_email_through_a_real_smtp_server(session, engine, monkeypatch):
    with _smtp_server(monkeypatch) as messages:
        seed_authorities(session)
        ch = add_channel(session, "DIRESA-08", "email", "vigilancia@diresacusco.gob.pe")
        alert = _alert(session)
        session.commit()
        sent = dispatch_pending(session_factory(engine), now=NOW)
    assert sent == 3  # DIGEMID outbox, DIRESA-08 outbox and e-mail
    assert len(messages) == 1
    text = messages[0].content.decode()
    assert messages[0].rcpt_tos == ["vigilancia@diresacusco.gob.pe"]
    assert "Robo de 10 ampollas." in text and alert.alert_id in text
    session.expire_all()
    d = session.query(Delivery).filter_by(channel_id=ch.id).one()
    assert d.status == "sent" and d.attempts == 1
    assert session.query(DeliveryAttempt).filter_by(delivery_id=d.id, ok=True).count() == 1


def test_signed_webhook_channel_down_then_up_loses_nothing(session, engine, hook):
    seed_authorities(session)
    ch = add_channel(session, "DIGEMID", "webhook", hook.url, secret=SECRET)
    alert = _alert(session)
    session.commit()
    factory = session_factory(engine)
    hook.mode = "down"
    assert dispatch_pending(factory, now=NOW) == 2  # both outboxes; the webhook failed
    session.expire_all()
    d = session.query(Delivery).filter_by(channel_id=ch.id).one()
    assert d.status == "pending" and d.attempts == 1 and "503" in d.last_error
    assert d.next_attempt_at == NOW + dt.timedelta(seconds=60)
    assert dispatch_pending(factory, now=NOW + dt.timedelta(seconds=30)) == 0  # backing off
    hook.mode = "up"
    assert dispatch_pending(factory, now=NOW + dt.timedelta(seconds=61)) == 1
    assert hook.received[0]["data"]["alert_id"] == alert.alert_id
    assert hook.received[0]["kind"] == "alert"
    session.expire_all()
    d = session.get(Delivery, d.id)
    assert d.status == "sent" and d.attempts == 2
    attempts = session.query(DeliveryAttempt).filter_by(delivery_id=d.id).order_by(DeliveryAttempt.id).all()
    assert [a.ok for a in attempts] == [False, True]


def test_failed_after_max_attempts_and_channel_disabled_on_permanent_error(session, engine, hook):
    seed_authorities(session)
    flaky = add_channel(session, "DIGEMID", "webhook", "http://127.0.0.1:9/nothing-listens",
                        secret=SECRET)
    gone = add_channel(session, "DIRESA-08", "webhook", hook.url, secret=SECRET)
    _alert(session)
    session.commit()
    factory = session_factory(engine)
    hook.mode = "gone"
    t = NOW
    for _ in range(3):
        dispatch_pending(factory, now=t, max_attempts=3, base_backoff_s=1)
        t += dt.timedelta(hours=1)
    session.expire_all()
    d = session.query(Delivery).filter_by(channel_id=flaky.id).one()
    assert d.status == "failed" and d.attempts == 3
    g = session.get(Channel, gone.id)
    assert g.enabled is False and "410" in g.disabled_reason
    held = session.query(Delivery).filter_by(channel_id=gone.id).one()
    assert held.status == "pending"  # waits for the operator; not lost
    # Re-enabled and fixed: the held delivery goes out.
    hook.mode = "up"
    g.enabled = True
    session.commit()
    assert dispatch_pending(factory, now=t) == 1
    assert len(hook.received) == 1


def test_claim_is_exclusive(session, engine):
    _alert(session)
    session.commit()
    ids = [d.id for d in session.query(Delivery)]
    factory = session_factory(engine)
    results = []
    barrier = threading.Barrier(3)

    def worker():
        barrier.wait()
        results.append(dispatch_pending(factory, now=NOW))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(results) == len(ids)  # every delivery sent exactly once
    assert session.query(DeliveryAttempt).count() == len(ids)
    assert session.query(Alert).count() == 1


def test_background_scheduler_detects_and_dispatches(engine):
    import time

    from centinela.alerts.query import routing_digest
    from centinela.db import session_scope
    from centinela.jobs import start_background
    from tests.detect_factory import FENT_AMP, base_products, est, mv

    with session_scope(engine) as s:
        base_products(s)
        est(s, "F1", ubigeo="080101")
        mv(s, "loss", "F1", FENT_AMP, 6, NOW)  # medium: reaches the police
    stop = start_background(engine, interval_s=0.2, dispatch_every_s=0.1)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with session_scope(engine) as s:
                if s.query(Delivery).filter_by(status="sent").count() >= 3:
                    break
            time.sleep(0.1)
    finally:
        stop()
    with session_scope(engine) as s:
        assert s.query(Alert).filter_by(detector="loss_report").count() == 1
        assert s.query(Delivery).filter_by(status="sent").count() == 3  # DIGEMID, DIRESA-08, DIRANDRO
        digest = routing_digest(s)
    assert "loss_report" in digest[0] and "DIRESA-08" in digest[0]


def test_email_of_a_payload_whose_summary_is_a_table_of_figures(monkeypatch):
    """The quarterly report's payload has a dict summary (its headline figures): the message is
    headed by its title, the figures travel in the JSON, and nothing raises."""
    from centinela.alerts.channels.email import EmailTransport

    with _smtp_server(monkeypatch) as messages:
        class Target:
            target = "informes@digemid.minsa.gob.pe"

        EmailTransport().notify(Target(), {  # type: ignore[arg-type]
            "title": "Informe trimestral interinstitucional: tercer trimestre de 2026",
            "summary": {"fentanyl_mg": 1234.5, "alerts": 7}}, "quarterly_report", 1)
    text = messages[0].content.decode()
    assert "Informe trimestral interinstitucional" in text and '"fentanyl_mg": 1234.5' in text
