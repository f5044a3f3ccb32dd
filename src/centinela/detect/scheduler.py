"""Background loop for ``centinela serve``: detection then dispatch, every ``interval_s``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine

log = logging.getLogger("centinela.scheduler")


def run_once(engine: Engine) -> dict:
    """Run detection (incremental: only what changed, see ``detect.incremental``) and deliver
    what is due; return a small report."""
    from centinela.alerts.dispatch import dispatch_pending
    from centinela.db import session_factory
    from centinela.detect.engine import run_all

    report = run_all(engine, incremental=True)
    sent = dispatch_pending(session_factory(engine), limit=500)
    return {"new": report.new, "updated": report.updated, "sent": sent,
            "errors": [r.name for r in report.errors], "seconds": round(report.seconds, 2)}


def start_background(engine: Engine, interval_s: float, dispatch_every_s: float = 30.0,
                     run_detection: bool = True) -> Callable[[], None]:
    """Start a daemon thread running detection every ``interval_s`` and dispatch every
    ``dispatch_every_s``; return a callable that stops it (and waits for the thread)."""
    from centinela.alerts.dispatch import dispatch_pending
    from centinela.db import session_factory
    from centinela.detect.engine import run_all

    stop = threading.Event()
    factory = session_factory(engine)

    def loop() -> None:
        next_detect = 0.0
        clock = 0.0
        while not stop.is_set():
            try:
                if run_detection and clock >= next_detect:
                    report = run_all(engine, incremental=True)
                    log.info("detection: %d new, %d updated in %.1fs", report.new, report.updated,
                             report.seconds)
                    next_detect = clock + interval_s
                dispatch_pending(factory, limit=500)
            except Exception:  # noqa: BLE001 - the loop must survive a bad run; it is logged
                log.exception("scheduled detection/dispatch failed")
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
