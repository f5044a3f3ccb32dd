"""``centinela online …``: ingest exports and feeds, classify text, review leads, retrain, purge."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from sqlalchemy import select

app = typer.Typer(help="Monitoreo de mercados en línea / online-market monitoring.",
                  no_args_is_help=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _engine():
    from centinela.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


@app.command("ingest")
def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="Export files (CSV, JSONL, result.json, .txt)."),
    fmt: str = typer.Option(None, "--format", help="posts | telegram | whatsapp | darknet"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report per file."),
    context: str = typer.Option(
        None, "--context", help="Override the connector's context: market | chat | social | ad "
                                "(default: darknet=market, telegram/whatsapp=chat, posts=social)"),
) -> None:
    """Ingest export files: classify, keep offers, group them into leads."""
    from centinela.db import session_scope
    from centinela.online.connectors import ConnectorError
    from centinela.online.decide import CONTEXTS
    from centinela.online.service import ingest_file

    if context is not None and context not in CONTEXTS:
        typer.echo(f"error: --context must be one of {', '.join(CONTEXTS)}", err=True)
        raise typer.Exit(2)
    engine = _engine()
    for path in paths:
        if not path.is_file():
            typer.echo(f"error: {path}: no such file", err=True)
            raise typer.Exit(2)
        try:
            with session_scope(engine) as session:
                report = ingest_file(session, path, _now(), fmt=fmt, context=context)
        except ConnectorError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            typer.echo(f"{path.name}: {report.read} leídos / read, {report.duplicates} duplicados, "
                       f"{report.positive} ofertas / offers, {report.negative} descartados, "
                       f"{len(report.leads)} leads")


@app.command("pull")
def pull_cmd(urls: list[str] = typer.Argument(..., help="Public RSS 2.0 / Atom feed URLs.")) -> None:
    """Pull public feeds (conditional GET: unchanged feeds cost one 304)."""
    from centinela.db import session_scope
    from centinela.online.connectors import ConnectorError
    from centinela.online.service import pull_feed

    engine = _engine()
    for url in urls:
        try:
            with session_scope(engine) as session:
                report = pull_feed(session, url, _now())
        except ConnectorError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))


@app.command("classify")
def classify_cmd(
    text: str = typer.Argument(None, help="Text to classify (or use --file)."),
    file: Path = typer.Option(None, "--file", help="One text per line."),
    explain: bool = typer.Option(True, "--explain/--no-explain"),
    context: str = typer.Option(
        "social", "--context",
        help="market (a listing: is an opioid offered?) | chat (offer or request?) | "
             "social (a public post) | ad (a classified ad)"),
) -> None:
    """Classify texts (nothing is stored); prints one JSON object per text."""
    from centinela.online.classify import classify
    from centinela.online.decide import CONTEXTS

    if context not in CONTEXTS:
        typer.echo(f"error: --context must be one of {', '.join(CONTEXTS)}", err=True)
        raise typer.Exit(2)

    if file is not None:
        texts = [t for t in file.read_text(encoding="utf-8").splitlines() if t.strip()]
    elif text:
        texts = [text]
    else:
        typer.echo("error: give a TEXT or --file", err=True)
        raise typer.Exit(2)
    for t, c in zip(texts, classify(texts, explain=explain, context=context), strict=True):
        typer.echo(json.dumps({"text": t[:200], **c.as_dict()}, ensure_ascii=False))


@app.command("leads")
def leads_cmd(
    status: str = typer.Option(None, help="open | confirmed | dismissed"),
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(100),
) -> None:
    """List leads, highest score first."""
    from centinela.db import session_scope
    from centinela.online.views import lead_summary, list_leads

    with session_scope(_engine()) as session:
        leads = list_leads(session, status=status, limit=limit)
        for lead in leads:
            row = lead_summary(lead)
            if as_json:
                typer.echo(json.dumps(row, ensure_ascii=False))
            else:
                typer.echo(f"{row['lead_id']}  {row['status']:<9} score={row['score']:>5}  "
                           f"posts={row['n_posts']:<3} dep={row['department'] or '--'}  "
                           f"{','.join(row['substances'])}  {','.join(row['platforms'])}")


@app.command("lead")
def lead_cmd(lead_id: str) -> None:
    """Show one lead with its posts, identifiers and evidence (JSON)."""
    from centinela import audit
    from centinela.db import session_scope
    from centinela.online.views import lead_detail

    with session_scope(_engine()) as session:
        detail = lead_detail(session, lead_id)
        if detail is None:
            typer.echo(f"error: unknown lead {lead_id}", err=True)
            raise typer.Exit(2)
        audit.record(session, "cli", "online.lead.read", lead_id)
        typer.echo(json.dumps(detail, ensure_ascii=False, indent=2, default=str))


def _decide(lead_id: str, decision: str, note: str, actor: str, department: str | None) -> None:
    from centinela.db import session_scope
    from centinela.online.leads import LeadError, decide

    try:
        with session_scope(_engine()) as session:
            lead = decide(session, lead_id, decision, actor, note, _now(), department=department)
            typer.echo(f"{lead.lead_id}: {lead.status}" + (f" → {lead.alert_id}" if lead.alert_id else ""))
    except LeadError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("confirm")
def confirm_cmd(lead_id: str, note: str = typer.Option(..., help="Why (audited)."),
                actor: str = typer.Option("cli"),
                department: str = typer.Option(None, help="2-digit INEI code if the lead has none.")) -> None:
    """Confirm a lead: alert to PNP-DIVINDAT, PNP-DIRANDRO and the regulator; EWS signal."""
    _decide(lead_id, "confirm", note, actor, department)


@app.command("dismiss")
def dismiss_cmd(lead_id: str, note: str = typer.Option(..., help="Why (audited)."),
                actor: str = typer.Option("cli")) -> None:
    """Dismiss a lead (its posts become negative training examples)."""
    _decide(lead_id, "dismiss", note, actor, None)


@app.command("retrain")
def retrain_cmd(
    out: Path = typer.Option(None, help="Folder for the artefact (default: <data_dir>/online-model)."),
    ship: bool = typer.Option(False, help="Write into the package (build time)."),
    feedback: bool = typer.Option(True, "--feedback/--no-feedback", help="Include analysts' verdicts."),
) -> None:
    """Train the classifier on the shipped corpus (+ feedback) and write artefact + manifest."""
    from centinela.db import session_scope
    from centinela.online import model_store
    from centinela.online.service import feedback_rows, retrain

    rows: list[dict] = []
    if feedback:
        with session_scope(_engine()) as session:
            rows = feedback_rows(session)
    target = model_store.package_dir() if ship else (out or model_store.user_dir())
    manifest = retrain(rows, target, _now())
    m = manifest.get("metrics", {})
    typer.echo(f"model → {target} ({manifest['artefact_bytes']} bytes, {len(rows)} feedback rows)")
    typer.echo(json.dumps(m, indent=2))


@app.command("purge")
def purge_cmd(days: int = typer.Option(None, help="Override CENTINELA_ONLINE_RETENTION_DAYS.")) -> None:
    """Delete posts and identifiers past the retention period."""
    from centinela.db import session_scope
    from centinela.online.service import purge

    with session_scope(_engine()) as session:
        typer.echo(json.dumps(purge(session, _now(), days)))


@app.command("corpus")
def corpus_cmd(out: Path = typer.Option(None, help="Default: the packaged corpus.jsonl.")) -> None:
    """Regenerate the synthetic labeled corpus (fixed seed; see docs/online.md)."""
    from centinela.online import model_store
    from centinela.online.corpus import generate, write_jsonl

    rows = generate()
    target = out or (model_store.package_dir() / "corpus.jsonl")
    sha = write_jsonl(rows, target)
    typer.echo(f"{len(rows)} rows → {target} (sha256 {sha[:16]}…)")


@app.command("runs")
def runs_cmd(limit: int = typer.Option(20)) -> None:
    """Show recent ingest runs (counts only)."""
    from centinela.db import session_scope
    from centinela.online.models import OnlineIngestRun

    with session_scope(_engine()) as session:
        for r in session.scalars(select(OnlineIngestRun).order_by(OnlineIngestRun.id.desc()).limit(limit)):
            typer.echo(f"#{r.id} {r.started_at:%Y-%m-%d %H:%M} {r.source_kind:<9} {r.source[:50]:<50} "
                       f"read={r.n_read} dup={r.n_duplicate} pos={r.n_positive} neg={r.n_negative}")
