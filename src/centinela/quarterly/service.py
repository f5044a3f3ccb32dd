"""Produce, store and deliver the quarterly report (one call for the CLI and the admin page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Authority, Channel, Delivery
from centinela.config import get_settings
from centinela.quarterly.figures import Quarter, quarter_figures
from centinela.quarterly.models import QuarterlyReport
from centinela.quarterly.render import digest, figures_json, render_html, render_pdf
from centinela.quarterly.words import quarter_long


@dataclass
class Produced:
    quarter: str
    digest: str
    files: list[str] = field(default_factory=list)
    routing: dict = field(default_factory=dict)
    report_id: int | None = None


def file_stem(quarter: str) -> str:
    """Return ``centinela-2026Q3`` for a quarter label."""
    return f"centinela-{quarter}"


def produce(session: Session, quarter: str, out_dir: Path | None, now: dt.datetime,
            as_of: dt.datetime | None = None, actor: str = "system", deliver: bool = True,
            pdf: bool = True) -> Produced:
    """Compute the figures, render HTML (and PDF), write them to ``out_dir``, store the report
    and queue it for its recipients. ``now`` is only the storage time: nothing inside the
    figures, the HTML or the PDF depends on it."""
    q = Quarter.parse(quarter)
    figures = quarter_figures(session, q, as_of)
    html = render_html(figures)
    pdf_bytes = render_pdf(html) if pdf else None
    res = Produced(q.label, digest(figures))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / file_stem(q.label)
        stem.with_suffix(".html").write_text(html, encoding="utf-8")
        stem.with_suffix(".json").write_text(figures_json(figures) + "\n", encoding="utf-8")
        res.files = [str(stem.with_suffix(".html")), str(stem.with_suffix(".json"))]
        if pdf_bytes is not None:
            stem.with_suffix(".pdf").write_bytes(pdf_bytes)
            res.files.insert(1, str(stem.with_suffix(".pdf")))
    row = session.scalar(select(QuarterlyReport).where(QuarterlyReport.quarter == q.label))
    if row is None:
        row = QuarterlyReport(quarter=q.label, routing={})
        session.add(row)
    row.as_of = dt.datetime.fromisoformat(figures["as_of"])
    row.generated_at, row.generated_by = now, actor[:80]
    row.digest, row.figures, row.html, row.pdf = res.digest, figures, html, pdf_bytes
    session.flush()
    res.report_id = row.id
    if deliver:
        res.routing = deliver_report(session, row, now)
        row.routing = res.routing
        session.flush()
    return res


def recipients() -> list[str]:
    """Return the authority ids marked as recipients (``CENTINELA_QUARTERLY_RECIPIENTS``)."""
    return [a.strip() for a in get_settings().quarterly_recipients.split(",") if a.strip()]


def payload(row: QuarterlyReport) -> dict:
    """Return what the channels deliver: headline figures and links (not the whole document)."""
    f = row.figures or {}
    n = (f.get("consumption") or {}).get("national") or {}
    a = f.get("alerts") or {}
    return {
        "id": f"{row.quarter}:{row.digest[:12]}", "quarter": row.quarter,
        "title": f"Informe trimestral interinstitucional: {quarter_long(row.quarter)}",
        "digest": row.digest, "as_of": f.get("as_of"),
        "summary": {"fentanyl_mg": n.get("fentanyl_mg"),
                    "fentanyl_per_100k": n.get("fentanyl_per_100k"),
                    "seizures": (f.get("seizures") or {}).get("count"),
                    "alerts": a.get("raised"), "outcomes": a.get("outcomes")},
        "html_url": f"/admin/quarterly/{row.quarter}.html",
        "pdf_url": f"/admin/quarterly/{row.quarter}.pdf",
        "json_url": f"/admin/quarterly/{row.quarter}.json",
    }


def deliver_report(session: Session, row: QuarterlyReport, now: dt.datetime) -> dict:
    """Queue one delivery per enabled channel of each recipient; a report with the same figures
    is queued once (ref = quarter and digest), a changed one again."""
    if session.scalar(select(Authority.authority_id).limit(1)) is None:
        from centinela.alerts.authorities import seed_authorities

        seed_authorities(session)
    body = payload(row)
    ref = f"quarterly:{body['id']}"
    done = set(session.scalars(select(Delivery.channel_id).where(Delivery.ref == ref)))
    queued, missing, already = [], [], 0
    for aid in recipients():
        auth = session.get(Authority, aid)
        if auth is None:
            missing.append(aid)
            continue
        for ch in session.scalars(select(Channel).where(Channel.authority_id == aid,
                                                        Channel.enabled.is_(True))
                                  .order_by(Channel.id)):
            if ch.id in done:
                already += 1
                continue
            session.add(Delivery(alert_id=None, payload_kind="quarterly", ref=ref,
                                 payload=body | {"authority_id": aid}, channel_id=ch.id,
                                 status="pending", attempts=0, next_attempt_at=now,
                                 created_at=now, severity="low"))
            done.add(ch.id)
            queued.append({"authority_id": aid, "channel_id": ch.id, "kind": ch.kind})
    session.flush()
    return {"queued": queued, "already_queued": already, "unknown_recipients": missing}
