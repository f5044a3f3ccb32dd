"""The audit chain stays linear under concurrent writers, and tampering is caught (issue 11.1)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from centinela import audit
from centinela.alerts.models import Delivery
from centinela.auditsign import make_checkpoint, read_checkpoints, verify_all
from centinela.cli import app
from centinela.db import session_factory


def _hammer(engine, threads: int = 12, per_thread: int = 15) -> None:
    make = session_factory(engine)
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(i: int) -> None:
        try:
            start.wait()
            for j in range(per_thread):
                with make() as s:
                    s.execute(select(audit.AuditEntry.id).limit(1)).all()  # a page read first
                    audit.record(s, f"analyst{i}", "patient.profile", f"PSN:p{i}-{j}",
                                 reason="concurrency test")
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]


def _fill(session, n: int = 6) -> None:
    t0 = dt.datetime(2025, 6, 1, 8, 0)
    for i in range(n):
        audit.record(session, "ana", "patient.profile", f"PSN:x{i}", now=t0 + dt.timedelta(minutes=i))
    session.commit()


def _unlock(session) -> None:
    """An attacker with database rights first disables the PostgreSQL guard."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))


def test_chain_is_linear_under_concurrent_writers(engine, session):
    _hammer(engine)
    v = audit.verify_chain(session)
    assert v.ok, v.describe()
    assert v.entries == 12 * 15
    prevs = session.scalars(select(audit.AuditEntry.prev_hash)).all()
    assert len(set(prevs)) == len(prevs), "two entries chained to the same predecessor"


def test_postgresql_refuses_update_and_delete(engine, session):
    if engine.dialect.name != "postgresql":
        pytest.skip("append-only trigger is PostgreSQL's")
    _fill(session, 2)
    for stmt in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(stmt))
        session.rollback()


def test_deleting_the_newest_entries_is_detected(session):
    _fill(session)
    _unlock(session)
    session.execute(text("DELETE FROM audit_log WHERE id > 4"))
    session.commit()
    v = audit.verify_chain(session)
    assert not v.ok and v.bad_id == 5 and "removed" in v.reason


def test_truncation_with_a_forged_head_is_caught_by_the_signed_checkpoint(session):
    _fill(session)
    make_checkpoint(session)
    session.commit()
    _unlock(session)
    session.execute(text("DELETE FROM audit_log WHERE id > 4"))
    session.execute(text("UPDATE audit_head SET last_id = 4, last_hash = "
                         "(SELECT entry_hash FROM audit_log WHERE id = 4)"))
    session.commit()
    assert audit.verify_chain(session).ok  # the chain alone cannot tell
    v = verify_all(session)
    assert not v.ok and v.bad_id == 5 and "truncated" in v.reason


def _rewrite_from(session, first: int) -> None:
    """Edit one entry and recompute every hash after it, head included."""
    rows = session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id)).all()
    prev = audit.GENESIS
    for e in rows:
        if e.id == first:
            e.reason = "rewritten"
        if e.id >= first:
            e.prev_hash = prev
            e.entry_hash = audit._digest(prev, e.at, e.actor, e.action, e.subject, e.reason,
                                         e.details or {})
        prev = e.entry_hash
    session.flush()
    session.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})
    session.commit()


def test_edit_and_recompute_is_caught_and_names_the_entry(session):
    _fill(session)
    make_checkpoint(session)
    session.commit()
    _unlock(session)
    _rewrite_from(session, 3)
    assert audit.verify_chain(session).ok
    v = verify_all(session)
    assert not v.ok and v.bad_id == 6 and "#1..#6" in v.reason


def test_plain_edit_names_the_edited_entry(session):
    _fill(session)
    _unlock(session)
    session.execute(text("UPDATE audit_log SET subject = 'PSN:other' WHERE id = 2"))
    session.commit()
    v = audit.verify_chain(session)
    assert not v.ok and v.bad_id == 2 and "edited" in v.reason


def test_checkpoint_goes_to_file_and_outbox_and_forgery_fails(session, tmp_path):
    _fill(session, 3)
    body = make_checkpoint(session)
    session.commit()
    cps = read_checkpoints()
    assert [c.valid for c in cps] == [True] and cps[0].body["last_id"] == body["last_id"] == 3
    d = session.scalars(select(Delivery).where(Delivery.payload_kind == "audit_checkpoint")).one()
    assert d.payload["last_hash"] == body["last_hash"] and d.payload["authority_id"] == "ANPDP"
    path = tmp_path / "audit-checkpoints.jsonl"
    path.write_text(path.read_text().replace(body["last_hash"], "f" * 64))
    v = verify_all(session)
    assert not v.ok and "bad signature" in v.reason


def test_cli_verify_exits_nonzero_and_names_the_entry(db_url, session):
    _fill(session)
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "OK" in ok.output
    _unlock(session)
    _rewrite_from(session, 2)
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1 and "#6" in bad.output


APPENDER = """
import sys
from centinela import audit
from centinela.db import make_engine, session_factory
engine = make_engine(sys.argv[1])
make = session_factory(engine)
for j in range(int(sys.argv[3])):
    with make() as s:
        audit.record(s, "proc" + sys.argv[2], "patient.profile", f"PSN:q{sys.argv[2]}-{j}")
        s.commit()
"""


def test_chain_is_linear_across_processes(db_url, session):
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(audit.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, db_url, str(i), "12"], env=env)
             for i in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    v = audit.verify_chain(session)
    assert v.ok and v.entries == 48, v.describe()
