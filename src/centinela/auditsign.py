"""Signed checkpoints of the audit chain head, kept outside the database.

A checkpoint is one JSON line ``{"at", "last_id", "last_hash", "entries", "mac"}`` appended to
``audit_checkpoint_file`` and queued through the outbox to the oversight authority. The HMAC key
(``CENTINELA_AUDIT_KEY``) never enters the database, so someone who can rewrite the log and
recompute every hash still cannot forge a checkpoint: truncation below a checkpoint, or any
rewrite of an entry it covers, fails :func:`verify_all`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.config import get_settings, local_secret

log = logging.getLogger("centinela.audit")

OVERSIGHT_NAME = "Autoridad Nacional de Protección de Datos Personales (MINJUSDH)"


def _key(key: str | None = None) -> bytes:
    return (key or get_settings().audit_key or local_secret("audit.key")).encode()


def checkpoint_path() -> Path:
    """Where checkpoints are appended (setting, or ``audit-checkpoints.jsonl`` in the data dir)."""
    s = get_settings()
    if s.audit_checkpoint_file:
        return Path(s.audit_checkpoint_file)
    return Path(s.data_dir or ".") / "audit-checkpoints.jsonl"


def _mac(body: dict, key: bytes) -> str:
    canon = json.dumps({k: body[k] for k in ("at", "last_id", "last_hash", "entries")},
                       sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canon.encode(), hashlib.sha256).hexdigest()


def make_checkpoint(session: Session, now: dt.datetime | None = None, key: str | None = None,
                    path: Path | None = None, deliver: bool = True) -> dict:
    """Verify the chain, sign its head, append it to the file and queue it to the oversight body."""
    v = audit.verify_chain(session)
    if not v.ok:
        raise ValueError(v.describe())
    now = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    body = {"at": now.isoformat(), "last_id": v.last_id, "last_hash": v.last_hash,
            "entries": v.entries}
    body["mac"] = _mac(body, _key(key))
    path = path or checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")
    if deliver:
        _deliver(session, body, now)
    return body


def _deliver(session: Session, body: dict, now: dt.datetime) -> None:
    from centinela.alerts.models import Authority, Channel, Delivery

    aid = get_settings().audit_oversight_authority
    if not aid:
        return
    if session.get(Authority, aid) is None:
        session.add(Authority(authority_id=aid, name=OVERSIGHT_NAME, kind="oversight",
                              departments=[], areas=[], exclude_areas=[], topics=["audit"],
                              min_severity="high", active=True))
        session.flush()
        session.add(Channel(authority_id=aid, kind="outbox", target="", enabled=True))
        session.flush()
    for ch in session.scalars(select(Channel).where(Channel.authority_id == aid,
                                                    Channel.enabled.is_(True))):
        session.add(Delivery(alert_id=None, payload_kind="audit_checkpoint",
                             payload=dict(body) | {"authority_id": aid}, channel_id=ch.id,
                             status="pending", attempts=0, next_attempt_at=now, created_at=now,
                             severity="high", ref=f"audit_checkpoint:{body['last_id']}:{body['at']}"))
    session.flush()


@dataclass(frozen=True)
class Checkpoint:
    line: int
    body: dict
    valid: bool


def read_checkpoints(path: Path | None = None, key: str | None = None) -> list[Checkpoint]:
    """Read every checkpoint line, checking its signature."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    k = _key(key)
    out = []
    for i, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            body = json.loads(raw)
            ok = hmac.compare_digest(str(body.get("mac", "")), _mac(body, k))
        except (ValueError, KeyError, TypeError):
            body, ok = {}, False
        out.append(Checkpoint(i, body, ok))
    return out


def verify_all(session: Session, path: Path | None = None, key: str | None = None) -> audit.Verdict:
    """Verify the chain itself, then that every signed checkpoint still matches it."""
    v = audit.verify_chain(session)
    if not v.ok:
        return v
    good_below = 0
    for cp in read_checkpoints(path, key):
        if not cp.valid:
            return audit.Verdict(False, v.entries, None, f"checkpoint line {cp.line} has a bad "
                                 "signature (checkpoint file forged or the wrong key)",
                                 v.last_id, v.last_hash)
        cid, chash = int(cp.body["last_id"]), cp.body["last_hash"]
        if cid == 0:
            continue
        stored = audit.entry_hash_at(session, cid)
        if stored is None:
            first_gone = v.last_id + 1 if cid > v.last_id else cid
            return audit.Verdict(False, v.entries, first_gone, f"entry #{cid} signed in the "
                                 f"checkpoint of {cp.body['at']} is missing (log truncated)",
                                 v.last_id, v.last_hash)
        if stored != chash:
            return audit.Verdict(False, v.entries, cid, f"entry #{cid} differs from the checkpoint "
                                 f"signed at {cp.body['at']}: an entry in #{good_below + 1}..#{cid} "
                                 "was rewritten and the hashes recomputed", v.last_id, v.last_hash)
        good_below = max(good_below, cid)
    return v


def start_background(engine, interval_s: float) -> Callable[[], None]:
    """Write a checkpoint every ``interval_s`` (and at start) from a daemon thread."""
    from centinela.db import session_scope

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                with session_scope(engine) as s:
                    make_checkpoint(s)
            except Exception:  # noqa: BLE001 - logged; a broken chain must not stop the server
                log.exception("audit checkpoint failed")
            if stop.wait(interval_s):
                break

    thread = threading.Thread(target=loop, name="centinela-audit-checkpoints", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=10)

    return stopper
