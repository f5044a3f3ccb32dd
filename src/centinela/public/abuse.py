"""Abuse protection that keeps reporters anonymous: a keyed client hash whose key rotates every
day (hashes of two days cannot be linked), per-hash rate limits, a honeypot field, and a light
challenge (a signed arithmetic question that must not be answered too fast)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.privacy import client_hash
from centinela.public.models import RateEvent


class AbuseError(ValueError):
    """A submission refused by abuse protection (``code`` says which check, for the UI)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def daily_client_hash(client: str, day: dt.date, purpose: str = "public") -> str:
    """Hash a client attribute (IP, phone) with a key derived for ``day`` only."""
    day_key = hmac.new(get_settings().secret_key.encode(), f"day:{day.isoformat()}".encode(),
                       hashlib.sha256).hexdigest()
    return client_hash(client, purpose, key=day_key)


def check_rate(session: Session, bucket: str, client: str, limit: int, window: dt.timedelta,
               now: dt.datetime) -> None:
    """Count one action of ``client`` in ``bucket``; raise AbuseError above ``limit``."""
    since = now - window
    used = session.scalar(
        select(func.count()).select_from(RateEvent)
        .where(RateEvent.bucket == bucket, RateEvent.client == client, RateEvent.at >= since)
    )
    if used >= limit:
        raise AbuseError("rate", "too many requests from this connection; try again later")
    session.add(RateEvent(bucket=bucket, client=client, at=now))
    # Counters older than two days are useless (their key has rotated): drop them.
    session.execute(delete(RateEvent).where(RateEvent.at < now - dt.timedelta(days=2)))
    session.flush()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="public-report-challenge")


def _answer_mac(nonce: str, answer: int) -> str:
    """Keyed digest of the expected answer: the token proves it without revealing it."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"challenge:{nonce}:{answer}".encode(), hashlib.sha256).hexdigest()[:32]


def new_challenge(now: dt.datetime) -> dict:
    """Return a challenge: a question to show, and a signed token to send back with the answer.

    The token holds only a nonce, the time and a keyed digest of the answer, so the answer
    cannot be read from it (it used to carry both addends in signed-but-readable JSON).
    """
    a, b = secrets.randbelow(8) + 2, secrets.randbelow(8) + 1
    nonce = secrets.token_hex(8)
    token = _serializer().dumps({"t": now.timestamp(), "n": nonce,
                                 "h": _answer_mac(nonce, a + b)})
    return {"token": token, "question": f"{a} + {b}", "a": a, "b": b}


def verify_challenge(session: Session, token: str, answer: str | int | None,
                     now: dt.datetime, honeypot: str = "") -> None:
    """Check honeypot, signature, age, time-to-submit and answer; each token works once."""
    settings = get_settings().public
    if honeypot:
        raise AbuseError("honeypot", "submission rejected")
    try:
        data = _serializer().loads(token or "")
        nonce, mac = str(data["n"]), str(data["h"])
    except (BadSignature, KeyError, TypeError):
        raise AbuseError("challenge",
                         "challenge token missing or invalid; reload the form") from None
    elapsed = now.timestamp() - float(data["t"])
    if elapsed > settings.challenge_max_age_s:
        raise AbuseError("expired", "the form expired; reload it")
    if elapsed < settings.min_submit_seconds:
        raise AbuseError("too_fast", "submitted too fast; please check the form and send again")
    try:
        given = int(str(answer).strip())
    except (TypeError, ValueError):
        given = None
    ok = given is not None and hmac.compare_digest(_answer_mac(nonce, given), mac)
    if not ok:
        raise AbuseError("answer", "wrong answer to the check question")
    nonce = "nonce:" + nonce
    if session.scalar(select(func.count()).select_from(RateEvent)
                      .where(RateEvent.bucket == "nonce", RateEvent.client == nonce)):
        raise AbuseError("replay", "this form was already sent; reload it to send another")
    session.add(RateEvent(bucket="nonce", client=nonce, at=now))
    session.flush()
