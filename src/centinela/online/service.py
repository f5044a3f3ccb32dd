"""Ingest pipeline (connector → classifier → extraction → storage → leads), feeds, purge, retrain."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.online import model_store
from centinela.online.classify import classify
from centinela.online.connectors import RawPost, detect_format, get_connector
from centinela.online.connectors.feeds import pull
from centinela.online.extract import extract
from centinela.online.leads import assign
from centinela.online.models import (
    OnlineFeed,
    OnlineFeedback,
    OnlineIngestRun,
    OnlineLead,
    OnlineLeadKey,
    OnlinePost,
    OnlineSeen,
)

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class IngestReport:
    run_id: int
    source_kind: str
    source: str
    read: int = 0
    duplicates: int = 0
    positive: int = 0
    negative: int = 0
    requests: int = 0  # chat messages asking to buy an opioid (counted, not stored)
    leads: list[str] = field(default_factory=list)
    feed_status: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _chunks(items: Iterable[RawPost], size: int) -> Iterator[list[RawPost]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def ingest_posts(session: Session, posts: Iterable[RawPost], source_kind: str, source: str,
                 now: dt.datetime, actor: str = "cli", context: str | None = None) -> IngestReport:
    """Classify and store posts; only offers are kept (negatives leave a hash and a count).

    Each post is decided in its connector's context unless ``context`` overrides it.
    """
    run = OnlineIngestRun(source_kind=source_kind, source=source[:500], actor=actor, started_at=now,
                          model_source=model_store.get_model().source)
    session.add(run)
    session.flush()
    report = IngestReport(run_id=run.id, source_kind=source_kind, source=source)
    stored: list[OnlinePost] = []
    for chunk in _chunks(posts, BATCH):
        report.read += len(chunk)
        keys = [p.post_key() for p in chunk]
        known = set(session.scalars(select(OnlineSeen.post_key).where(OnlineSeen.post_key.in_(keys))))
        fresh: list[tuple[str, RawPost]] = []
        for key, post in zip(keys, chunk, strict=True):
            if key in known:
                report.duplicates += 1
                continue
            known.add(key)  # duplicates inside one file
            fresh.append((key, post))
        if not fresh:
            continue
        verdicts = classify([p.text for _, p in fresh], language=False,
                            context=[context or p.context for _, p in fresh])
        model = model_store.get_model().model
        for (key, post), verdict in zip(fresh, verdicts, strict=True):
            session.add(OnlineSeen(post_key=key, run_id=run.id, seen_at=now, positive=verdict.is_offer))
            if not verdict.is_offer:
                report.negative += 1
                report.requests += verdict.kind == "request"
                continue
            report.positive += 1
            prov = post.provenance()
            prov["author_id"] = post.author_id
            row = OnlinePost(
                post_key=key, run_id=run.id, source_kind=post.source_kind, platform=post.platform,
                provenance=prov, author=post.author, url=post.url, text=post.text,
                posted_at=post.posted_at, stored_at=now, language=verdict.language,
                probability=verdict.probability, substances=verdict.substances,
                explanation={"decided_by": verdict.decided_by, "rule": verdict.rule,
                             "context": verdict.context, **model.explain(post.text)},
                entities=extract(post.text).as_dict(),
            )
            session.add(row)
            stored.append(row)
        session.flush()
    touched = assign(session, stored, now) if stored else set()
    report.leads = sorted(touched)
    run.n_read, run.n_duplicate = report.read, report.duplicates
    run.n_positive, run.n_negative, run.n_leads_touched = report.positive, report.negative, len(touched)
    session.flush()
    log.info("online ingest run %s: read=%s dup=%s pos=%s neg=%s leads=%s", run.id, report.read,
             report.duplicates, report.positive, report.negative, len(touched))
    return report


def ingest_file(session: Session, path: Path, now: dt.datetime, fmt: str | None = None,
                actor: str = "cli", display_name: str | None = None,
                context: str | None = None) -> IngestReport:
    """Read an export file with its connector and ingest it (``context`` overrides the
    connector's: e.g. a posts file exported from a classifieds site is ``ad``)."""
    kind = fmt or detect_format(path)
    posts = get_connector(kind).read(path, now)
    return ingest_posts(session, posts, kind, display_name or path.name, now, actor, context)


def pull_feed(session: Session, url: str, now: dt.datetime, actor: str = "cli") -> IngestReport:
    """Pull a public RSS/Atom feed with conditional GET and ingest its new items."""
    feed = session.get(OnlineFeed, url) or OnlineFeed(url=url)
    session.add(feed)
    result = pull(url, now, etag=feed.etag, last_modified=feed.last_modified)
    feed.last_status, feed.last_pulled_at = result.status, now
    if result.status == 304:
        report = ingest_posts(session, [], "feed", url, now, actor)
    else:
        feed.etag, feed.last_modified = result.etag, result.last_modified
        feed.title = (result.title or "")[:300] or None
        report = ingest_posts(session, result.posts, "feed", url, now, actor)
    report.feed_status = result.status
    return report


def purge(session: Session, now: dt.datetime, retention_days: int | None = None) -> dict:
    """Delete what the retention period no longer allows keeping; return counts."""
    days = get_settings().online_retention_days if retention_days is None else retention_days
    cutoff = now - dt.timedelta(days=days)
    dismissed = select(OnlineLead.lead_id).where(OnlineLead.status == "dismissed",
                                                 OnlineLead.decided_at < cutoff)
    counts = {}
    counts["posts_without_lead"] = session.execute(delete(OnlinePost).where(
        OnlinePost.lead_id.is_(None), OnlinePost.stored_at < cutoff)).rowcount
    counts["posts_of_dismissed_leads"] = session.execute(delete(OnlinePost).where(
        OnlinePost.lead_id.in_(dismissed), OnlinePost.stored_at < cutoff)).rowcount
    counts["keys_of_dismissed_leads"] = session.execute(delete(OnlineLeadKey).where(
        OnlineLeadKey.lead_id.in_(dismissed))).rowcount
    counts["seen_hashes"] = session.execute(delete(OnlineSeen).where(
        OnlineSeen.seen_at < cutoff,
        ~exists().where(OnlinePost.post_key == OnlineSeen.post_key))).rowcount
    session.flush()
    log.info("online purge before %s: %s", cutoff.isoformat(), counts)
    return {"cutoff": cutoff.isoformat(), "retention_days": days, **counts}


def feedback_rows(session: Session) -> list[dict]:
    """Analyst feedback as training rows (identifiers already masked)."""
    return [{"text": f.text, "label": f.label, "lead_id": f.lead_id}
            for f in session.scalars(select(OnlineFeedback).order_by(OnlineFeedback.id))]


def retrain(feedback: list[dict], out_dir: Path, now: dt.datetime) -> dict:
    """Train on the shipped corpus plus feedback, evaluate, write artefact + manifest to ``out_dir``."""
    corpus = model_store.package_dir() / "corpus.jsonl"
    sha = hashlib.sha256(corpus.read_bytes()).hexdigest()
    model, info = model_store.train(model_store.corpus_rows(), feedback)
    manifest = model_store.save(model, info, out_dir, sha, now)
    model_store.reset()
    return manifest
