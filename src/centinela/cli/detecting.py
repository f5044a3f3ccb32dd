"""Detection and alert commands: detect, alerts, dispatch, case, authorities, detectors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from centinela.lib import clock


def _parse_now(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return clock.parse_time(value)  # the spec: no offset means Lima time
    except ValueError:
        raise typer.BadParameter(f"--now must be ISO 8601 (e.g. 2025-12-31T23:59:00-05:00), got {value!r}") from None


def _engine():
    from centinela.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("detect")
def detect_cmd(
    now: str = typer.Option(None, "--now", help="Judge as of this time (default: latest movement)."),
    only: str = typer.Option(None, "--only", help="Comma-separated detector names."),
    lookback_days: int = typer.Option(366, "--lookback-days", help="Report findings in this window."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Revisar solo lo que cambió desde la última corrida / "
        "revisit only the subjects touched since the last run (docs: detect.incremental)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Sin barra de progreso / no progress bar."),
    no_sync: bool = typer.Option(
        False, "--no-sync", help="No convertir antes las incautaciones en señales de alerta "
        "temprana / do not turn seizures into early-warning signals first."),
) -> None:
    """Ejecuta todos los detectores / run every detector over what is stored."""
    from centinela.cli.progress import bar, wanted
    from centinela.detect.engine import Progress, run_all
    from centinela.detect.registry import DETECTORS

    names = [n.strip() for n in only.split(",")] if only else None
    engine = _engine()
    # The early-warning detectors read signals, not seizures: turn new or changed seizures
    # (``centinela import``, the API) into signals first, as ``centinela ews detect`` and the
    # scheduled job do. Idempotent: an unchanged seizure is left as it is.
    synced, sync_error = None, None
    if not no_sync and (names is None or any(n.startswith("ews_") for n in names)):
        synced, sync_error = _sync_seizures(engine)
        if sync_error:
            typer.echo(f"No se pudieron sincronizar las incautaciones / seizures could not be "
                       f"synced: {sync_error}", err=True)
    try:
        with bar(wanted(quiet, as_json), "Detección / detection",
                 total=len(names or DETECTORS)) as advance:

            class _Bar(Progress):
                loaded = 0

                def rows(self, n: int) -> None:
                    self.loaded += n
                    advance(0, description=f"Carga / loading {self.loaded:,} movimientos")

                def detector(self, name: str) -> None:
                    advance(1, description=f"Detector {name}")

            report = run_all(engine, now=_parse_now(now), only=names,
                             lookback_days=lookback_days, incremental=incremental,
                             progress=_Bar())
    except KeyError as exc:
        typer.echo(str(exc).strip("'\""), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict() | {"ews_sync": synced}, ensure_ascii=False))
    else:
        if synced is not None and (synced["new"] or synced["updated"]):
            typer.echo(f"Incautaciones → señales de alerta temprana / seizures → early-warning "
                       f"signals: {synced['new']} nuevas/new, {synced['updated']} "
                       f"actualizadas/updated")
        if report.mode == "skip":
            typer.echo("Nada nuevo desde la última corrida / nothing new since the last run.")
            if sync_error:
                raise typer.Exit(1)
            return
        at = report.now.isoformat(timespec="seconds")
        es, en = ("--now", "--now") if now else ("el último movimiento guardado",
                                                  "the latest movement stored")
        typer.echo(f"Detección al {at} UTC ({es}) sobre {report.movements} movimientos / "
                   f"detection as of {at} UTC ({en}) over {report.movements} movements"
                   + (" (incremental)" if report.mode == "partial" else ""))
        typer.echo(f"{'detector':28} {'hallazgos':>9} {'nuevas':>7} {'actualiz.':>9} {'seg':>7}")
        for r in report.results:
            line = f"{r.name:28} {r.found:9d} {r.new:7d} {r.updated:9d} {r.seconds:7.2f}"
            if r.scope == "partition":
                line += f"  ({r.subjects} sujeto(s) con cambios / subject(s) touched)"
            elif r.scope == "deferred":
                line += "  (pares: hasta la próxima corrida completa / peers: until the next full run)"
            if r.truncated:
                line += f"  (+{r.truncated} de menor puntaje omitidas / lower-score dropped)"
            if r.stale:
                line += (f"  ({r.stale} abierta(s) ya no encontrada(s) / open alert(s) not "
                         "found again)")
            if r.error:
                line += f"  ERROR: {r.error}"
            typer.echo(line)
        typer.echo(f"Total: {report.new} nuevas / new, {report.updated} actualizadas / updated, "
                   f"{report.seconds:.1f} s (carga / load {report.load_seconds:.1f} s)")
    if report.errors or sync_error:
        raise typer.Exit(1)


def _sync_seizures(engine) -> tuple[dict | None, str | None]:
    """Turn new or changed seizures into early-warning signals in their own transaction;
    return (counts, None), or (None, the error) when the sync failed (detection still runs
    over the signals already stored)."""
    from centinela.db import session_scope
    from centinela.ews.intake import sync_seizures

    try:
        with session_scope(engine) as session:
            return sync_seizures(session), None
    except Exception as exc:  # noqa: BLE001 - detection still runs over what is stored
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


@app.command("alerts")
def alerts_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line (spec format)."),
    detector: str = typer.Option(None, "--detector", help="Filter by detector (comma list)."),
    severity: str = typer.Option(None, "--severity", help="low, medium, high, critical (comma list)."),
    department: str = typer.Option(None, "--department", help="2-digit department code(s)."),
    status: str = typer.Option(None, "--status", help="new, triaged, audit_scheduled, closed."),
    limit: int = typer.Option(0, "--limit", help="At most this many (0 = all)."),
) -> None:
    """Lista las alertas por puntaje / list alerts, highest score first."""
    from centinela.alerts.payload import alert_json
    from centinela.alerts.query import list_alerts
    from centinela.db import session_scope

    with session_scope(_engine()) as session:
        try:
            rows = list_alerts(session, detector, severity, department, status, limit=limit or None)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        if as_json:
            for a in rows:
                typer.echo(json.dumps(alert_json(a), ensure_ascii=False))
            return
        if not rows:
            typer.echo("Sin alertas / no alerts.")
            return
        typer.echo(f"{'puntaje':>7} {'severidad':9} {'detector':26} {'sujeto':34} {'dep':3} "
                   f"{'estado':15} resumen")
        for a in rows:
            subj = f"{a.subject_kind}:{a.subject_id}"[:34]
            typer.echo(f"{a.score:7.1f} {a.severity:9} {a.detector:26} {subj:34} "
                       f"{a.department or '--':3} {a.status:15} {a.summary[:110]}")
        typer.echo(f"{len(rows)} alerta(s) / alert(s)")


@app.command("dispatch")
def dispatch_cmd(
    limit: int = typer.Option(500, "--limit", help="Deliveries to attempt in this run."),
) -> None:
    """Envía las entregas pendientes / deliver pending outbox rows through their channels."""
    from sqlalchemy import func, select

    from centinela.alerts.dispatch import dispatch_pending
    from centinela.alerts.models import Delivery
    from centinela.db import session_factory, session_scope

    engine = _engine()
    sent = dispatch_pending(session_factory(engine), limit=limit)
    with session_scope(engine) as s:
        counts = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    typer.echo(f"Enviadas / sent: {sent}. Estado de la bandeja / outbox: "
               + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


@app.command("case")
def case_cmd(
    alert_id: str = typer.Argument(..., help="ALR-… id of the alert."),
    action: str = typer.Argument(..., help="triage | schedule-audit | close | reopen | note"),
    outcome: str = typer.Option(None, "--outcome", help="confirmed | justified | false_positive"),
    note: str = typer.Option("", "--note", help="Free-text note (kept in the case history)."),
    actor: str = typer.Option("cli", "--actor", help="Who acts (user name)."),
) -> None:
    """Gestiona el caso de una alerta / move an alert through the case workflow."""
    from centinela.alerts.cases import CaseError, act
    from centinela.db import session_scope

    try:
        with session_scope(_engine()) as session:
            ev = act(session, alert_id, action, actor, note=note, outcome=outcome)
            typer.echo(f"{alert_id}: {ev.from_status} → {ev.to_status}"
                       + (f" ({ev.outcome})" if ev.outcome else ""))
    except CaseError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command("precision")
def precision_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Precisión por detector según casos cerrados / precision per detector from closed cases."""
    from centinela.alerts.cases import precision_by_detector
    from centinela.db import session_scope

    with session_scope(_engine()) as session:
        rows = [p.as_dict() for p in precision_by_detector(session)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        prec = "—" if r["precision"] is None else f"{100 * r['precision']:.0f} %"
        typer.echo(f"{r['detector']:28} cerrados {r['closed']:4d}  confirmados {r['confirmed']:4d}  "
                   f"justificados {r['justified']:4d}  falsos positivos {r['false_positive']:4d}  {prec}")


authorities = typer.Typer(help="Autoridades y canales / authorities and delivery channels.",
                          no_args_is_help=True)


@authorities.command("list")
def auth_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Lista autoridades y canales / list authorities and their channels."""
    from sqlalchemy import select

    from centinela.alerts.authorities import seed_authorities
    from centinela.alerts.models import Authority, Channel
    from centinela.db import session_scope

    with session_scope(_engine()) as s:
        seed_authorities(s)
        chans: dict[str, list] = {}
        for c in s.scalars(select(Channel).order_by(Channel.id)):
            chans.setdefault(c.authority_id, []).append(
                {"id": c.id, "kind": c.kind, "target": c.target, "enabled": c.enabled,
                 "disabled_reason": c.disabled_reason})
        rows = [{"authority_id": a.authority_id, "name": a.name, "kind": a.kind,
                 "departments": a.departments, "areas": a.areas, "topics": a.topics,
                 "min_severity": a.min_severity, "active": a.active,
                 "channels": chans.get(a.authority_id, [])}
                for a in s.scalars(select(Authority).order_by(Authority.authority_id))]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    for r in rows:
        where = ",".join(r["departments"] or []) or (f"{len(r['areas'])} distritos" if r["areas"] else "nacional")
        ch = " ".join(f"#{c['id']}:{c['kind']}{'' if c['enabled'] else '(off)'}" for c in r["channels"])
        typer.echo(f"{r['authority_id']:14} {where:14} {','.join(r['topics']) or 'todos':40} {ch}")


@authorities.command("add-channel")
def auth_add_channel(
    authority_id: str = typer.Argument(...),
    kind: str = typer.Argument(..., help="email | webhook | outbox"),
    target: str = typer.Argument("", help="E-mail address(es) or webhook URL."),
    secret: str = typer.Option(None, "--secret", help="Webhook HMAC secret (default: secret_key)."),
) -> None:
    """Agrega un canal a una autoridad / add a delivery channel to an authority."""
    from centinela.alerts.authorities import add_channel, seed_authorities
    from centinela.db import session_scope

    try:
        with session_scope(_engine()) as s:
            seed_authorities(s)
            ch = add_channel(s, authority_id, kind, target, secret)
            typer.echo(f"canal / channel #{ch.id} ({kind}) → {authority_id}")
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@authorities.command("set-channel")
def auth_set_channel(
    channel_id: int = typer.Argument(...),
    enabled: bool = typer.Option(..., "--enable/--disable"),
    reason: str = typer.Option(None, "--reason"),
) -> None:
    """Activa o desactiva un canal / enable or disable a channel."""
    from centinela.alerts.authorities import set_channel_enabled
    from centinela.db import session_scope

    try:
        with session_scope(_engine()) as s:
            set_channel_enabled(s, channel_id, enabled, reason)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"canal / channel #{channel_id}: {'activo' if enabled else 'desactivado'}")


@app.command("detectors")
def detectors_cmd(
    write: Path = typer.Option(None, "--write", help="Write the Markdown reference to this file."),
) -> None:
    """Referencia de detectores generada del registro / detector reference from the registry."""
    from centinela.detect.docs import render_markdown

    text = render_markdown()
    if write:
        write.write_text(text, encoding="utf-8")
        typer.echo(f"escrito / written: {write}")
    else:
        typer.echo(text)
