"""The application's scheduled jobs (``centinela serve``): detection, reminders, dispatch.

Detection runs every registered detector (the ledger's and the early-warning system's, after
turning new seizures into EWS signals) every ``interval_s``; the certification reminders are
queued every ``certification_remind_every_hours`` (at start, then on that period); dispatch
delivers what is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from centinela.alerts.dispatch import dispatch_pending
from centinela.db import session_factory, session_scope
from centinela.detect.engine import DetectionReport, run_all
from centinela.ews.intake import sync_seizures
from centinela.lib.clock import lima_day, utcnow
from centinela.wiring import install

log = logging.getLogger("centinela.scheduler")


def detect(engine: Engine) -> DetectionReport:
    """Sync seizures into EWS signals, then run every registered detector incrementally (only
    what changed since the last recorded run, see ``detect.incremental``)."""
    install()
    with session_scope(engine) as session:
        try:
            with session.begin_nested():
                sync_seizures(session)
        except Exception:  # noqa: BLE001 - detection still runs over what is stored
            log.exception("syncing seizures into EWS signals failed")
        return run_all(session, incremental=True)


def remind(engine: Engine, now: dt.datetime | None = None) -> dict[str, Any]:
    """Queue the certification reminders due today (Lima); idempotent within a day."""
    from centinela.certification.progress import send_reminders

    now = now or utcnow()
    with session_scope(engine) as session:
        return send_reminders(session, lima_day(now), now)


def run_once(engine: Engine) -> dict[str, Any]:
    """Run every detector and deliver what is due; return a small report."""
    report = detect(engine)
    sent = dispatch_pending(session_factory(engine), limit=500)
    return {"new": report.new, "updated": report.updated, "sent": sent,
            "errors": [r.name for r in report.errors], "seconds": round(report.seconds, 2)}


def start_background(engine: Engine, interval_s: float, dispatch_every_s: float = 30.0,
                     run_detection: bool = True,
                     remind_every_s: float | None = None) -> Callable[[], None]:
    """Start a daemon thread running detection every ``interval_s``, the certification
    reminders every ``remind_every_s`` (default: the setting; 0 or less: never) and dispatch
    every ``dispatch_every_s``; return a callable that stops it (and waits for the thread)."""
    from centinela.alerts.dispatch import dispatch_pending
    from centinela.config import get_settings
    from centinela.db import session_factory

    stop = threading.Event()
    factory = session_factory(engine)

    if remind_every_s is None:
        remind_every_s = get_settings().certification_remind_every_hours * 3600

    def loop() -> None:
        next_detect = next_remind = 0.0
        clock = 0.0
        while not stop.is_set():
            try:
                if run_detection and clock >= next_detect:
                    report = detect(engine)
                    log.info("detection: %d new, %d updated in %.1fs", report.new, report.updated,
                             report.seconds)
                    next_detect = clock + interval_s
            except Exception:  # noqa: BLE001 - the loop must survive a bad run; it is logged
                log.exception("scheduled detection failed")
            try:
                if remind_every_s > 0 and clock >= next_remind:
                    res = remind(engine)
                    log.info("certification reminders: %d due, %d queued", res["due"],
                             res["queued_professionals"] + res["queued_authorities"])
                    next_remind = clock + remind_every_s
            except Exception:  # noqa: BLE001 - logged; tried again on the next period
                log.exception("scheduled certification reminders failed")
                next_remind = clock + remind_every_s
            try:
                dispatch_pending(factory, limit=500)
            except Exception:  # noqa: BLE001 - the loop must survive a bad run; it is logged
                log.exception("scheduled dispatch failed")
            wait = min(dispatch_every_s, interval_s)
            if stop.wait(wait):
                break
            clock += wait

    thread = threading.Thread(target=loop, name="centinela-scheduler", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=30)

    return stopper
