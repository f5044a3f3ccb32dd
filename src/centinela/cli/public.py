"""``centinela report …``, ``centinela assistant …`` and ``centinela services …``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _session():
    from centinela.db import create_schema, get_engine, session_scope

    engine = get_engine()
    create_schema(engine)
    return session_scope(engine)


report = typer.Typer(help="Citizen reports: file, list for triage, change status, "
                          "re-redact stored ones.",
                     no_args_is_help=True)
assistant = typer.Typer(help="The public assistant: ask, evaluate.", no_args_is_help=True)
services = typer.Typer(help="Treatment-services directory.", no_args_is_help=True)


@report.command("submit")
def report_submit(
    kind: str = typer.Option(..., help="fentanyl_no_rx, pills, online_offer, "
                                       "suspicious_pharmacy or other"),
    ubigeo: str = typer.Option(..., help="INEI district code"),
    text: str = typer.Option("", help="What was seen"),
    establishment: str = typer.Option("", help="Establishment name"),
    contact: str = typer.Option("", help="Seller phone, handle or link"),
    photo: Path = typer.Option(None, exists=True, dir_okay=False, help="JPEG or PNG"),
) -> None:
    """File a report (channel ``cli``) and print its follow-up code.

    A text that describes an emergency gets the emergency answer printed first (as the API
    returns it), whether or not the report can be filed.
    """
    from centinela.public.citizen_messages import bilingual_field_message, emergency_message
    from centinela.public.intake import ReportError, ReportInput, submit
    from centinela.public.photos import PhotoError

    emergency = emergency_message(text)
    if emergency:
        typer.echo(emergency)
        typer.echo("")
    try:
        with _session() as session:
            rep, code = submit(session, ReportInput(
                kind=kind, ubigeo=ubigeo, text=text, establishment_name=establishment or None,
                contact=contact or None, photo=photo.read_bytes() if photo else None),
                channel="cli", now=_now())
            typer.echo(f"{rep.report_id} code={code} priority={rep.priority}")
    except (ReportError, PhotoError) as exc:
        field = getattr(exc, "field", "photo")
        option = {"establishment_name": "establishment", "location": "text"}.get(field, field)
        message = bilingual_field_message(field, str(exc))
        if field in ("kind", "how"):
            message += f" ({str(exc).split(': ', 1)[-1]})"  # the values a command line takes
        typer.echo(f"error (--{option}): {message}", err=True)
        raise typer.Exit(2) from None


@report.command("list")
def report_list(status: str = typer.Option(None, help="Only this status"),
                as_json: bool = typer.Option(False, "--json", help="One JSON object a line"),
                actor: str = typer.Option("cli", help="Who reads (audit log)")) -> None:
    """List recent reports for triage, highest priority first (read is audited)."""
    from centinela.audit import record
    from centinela.public.triage import row_json, triage

    with _session() as session:
        rows = [row_json(r) for r in triage(session, _now(), status=status)]
        record(session, actor, "citizen_report.list", status or "all",
               details={"count": len(rows)})
    for r in rows:
        if as_json:
            typer.echo(json.dumps(r, ensure_ascii=False))
        else:
            dup = f" dup-of={r['duplicate_of']}" if r["duplicate_of"] else ""
            typer.echo(f"{r['priority']:5.1f} {r['report_id']} {r['status']:9} {r['kind']:20}"
                       f" {r['place']} cluster={r['cluster']}{dup}")


@report.command("set-status")
def report_set_status(report_id: str, status: str,
                      actor: str = typer.Option(..., help="Analyst username (audited)"),
                      note: str = typer.Option("", help="Shown to the reporter")) -> None:
    """Move a report to received, in_review, forwarded or closed."""
    from centinela.public.triage import TriageError, set_status

    try:
        with _session() as session:
            set_status(session, report_id, status, actor, _now(), note)
    except TriageError as exc:
        typer.echo(f"error: no se pudo cambiar el estado / could not change the status: {exc}",
                   err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{report_id} → {status}")


@report.command("status")
def report_status(code: str) -> None:
    """Show what the reporter sees for a follow-up code."""
    from centinela.public.intake import find_by_code, public_status

    with _session() as session:
        rep = find_by_code(session, code)
        if rep is None:
            typer.echo("error: ningún reporte tiene este código; revise que tenga los 20 "
                       "caracteres / no report has this code; check that all 20 characters are "
                       "there", err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(public_status(session, rep), ensure_ascii=False, indent=1))


_REDACT_LABELS = {
    "text": "texto / text",
    "establishment_name": "establecimiento / establishment name",
    "contact_removed": "contacto quitado / lead removed",
    "contact_added": "contacto añadido / lead added",
    "contact_redacted": "contacto sin documento / contact less its ID number",
    "addition_text": "adiciones / additions",
    "alert_summary": "resumen de alerta / alert summary",
    "alert_evidence": "evidencia de alerta / alert evidence",
    "delivery_payload": "envío de alerta / outbox payload",
}
_REDACT_SHOWN_IDS = 20


@report.command("redact-stored")
def report_redact_stored(
    dry_run: bool = typer.Option(True, "--dry-run/--apply",
                                 help="Solo mostrar qué cambiaría (por defecto) / only show what "
                                      "would change (default); --apply writes it"),
    actor: str = typer.Option("cli", help="Quién lo ejecuta (auditoría) / who runs it (audit log)"),
    batch_size: int = typer.Option(200, min=1, help="Reportes por transacción / reports per "
                                                    "transaction"),
    as_json: bool = typer.Option(False, "--json", help="Todo el resultado en JSON, con todos "
                                                      "los ids / the whole result as JSON"),
) -> None:
    """Vuelve a redactar los reportes guardados / re-redact stored reports with the current
    redactor (text, establishment name, seller lead, additions, alert copies).

    Prints counts per field and ids, never the data itself. Idempotent; audited.
    """
    from centinela.public.reredact import FIELDS, redact_stored

    with _session() as session:
        result = redact_stored(session, apply=not dry_run, actor=actor, now=_now(),
                               batch_size=batch_size)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
        return
    typer.echo(f"Revisados / checked: {result.reports} reportes / reports, {result.additions} "
               f"adiciones / additions, {result.alerts} alertas / alerts, {result.deliveries} "
               f"envíos / deliveries.")
    changed = len(result.report_ids())
    audit = ", ".join(f"#{i}" for i in result.audit_ids)
    if not result.changes:
        typer.echo("Nada que cambiar / nothing to change: todo ya está redactado con el "
                   "redactor actual / everything is already redacted with the current redactor.")
        typer.echo(f"Auditoría / audit log: {audit}")
        return
    if dry_run:
        typer.echo(f"Simulación, no se escribió nada / dry run, nothing written. Cambiarían / "
                   f"would change: {changed} reportes / reports.")
    else:
        typer.echo(f"Aplicado / applied: {changed} reportes cambiados / reports changed, en "
                   f"{result.batches_written} transacciones / transactions.")
    for f in FIELDS:
        if not result.counts[f]:
            continue
        ids = result.ids[f]
        more = (f" … (+{len(ids) - _REDACT_SHOWN_IDS}, --json)"
                if len(ids) > _REDACT_SHOWN_IDS else "")
        typer.echo(f"  {_REDACT_LABELS[f]:42} {result.counts[f]:5}  "
                   f"{', '.join(ids[:_REDACT_SHOWN_IDS])}{more}")
    typer.echo(f"Auditoría / audit log: {audit}")
    if dry_run:
        typer.echo("Para escribirlo / to write it: centinela report redact-stored --apply")


@assistant.command("ask")
def assistant_ask(question: str, lang: str = typer.Option(None, help="es, en or qu"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Ask the assistant one question."""
    from centinela.public.assistant.engine import ask
    from centinela.public.messaging import format_answer

    with _session() as session:
        answer = ask(question, lang, session=session, now=_now()).as_dict()
    typer.echo(json.dumps(answer, ensure_ascii=False, indent=1) if as_json
               else format_answer(answer))


@assistant.command("eval")
def assistant_eval(show_misses: bool = typer.Option(False, help="List wrong answers")) -> None:
    """Score the assistant on the shipped evaluation sets."""
    from centinela.public.evaluation import evaluate

    result = evaluate()
    misses = result.pop("misses")
    typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
    if show_misses:
        for m in misses:
            typer.echo(f"MISS {m['q']!r}: expected {m['expected']}, got {m['got']}")


@services.command("seed")
def services_seed() -> None:
    """Load (or refresh) the 241 IPRESS hospitals into the directory."""
    from centinela.public.directory import seed_ipress

    with _session() as session:
        new = seed_ipress(session, _now())
    typer.echo(f"IPRESS hospitals: {new} new")


@services.command("add")
def services_add(
    name: str = typer.Option(...), ubigeo: str = typer.Option(...),
    kind: str = typer.Option("csmc", help="csmc, hospital or other"),
    address: str = typer.Option(""), phone: str = typer.Option(""),
    hours: str = typer.Option(""), latitude: float = typer.Option(None),
    longitude: float = typer.Option(None), institution: str = typer.Option("MINSA"),
    source: str = typer.Option("", help="Where this record comes from"),
    actor: str = typer.Option("admin", help="Who adds it (audited)"),
) -> None:
    """Add or update a service, e.g. a community mental-health centre (CSMC)."""
    from centinela.audit import record
    from centinela.public.directory import ServiceError, add_service

    try:
        with _session() as session:
            svc = add_service(session, name=name, ubigeo=ubigeo, kind=kind, address=address,
                              phone=phone, hours=hours, latitude=latitude,
                              longitude=longitude, institution=institution, source=source,
                              added_by=actor, now=_now())
            record(session, actor, "service.upsert", svc.service_id)
            typer.echo(svc.service_id)
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@services.command("nearest")
def services_nearest(ubigeo: str, limit: int = typer.Option(5),
                     kind: str = typer.Option(None),
                     as_json: bool = typer.Option(False, "--json")) -> None:
    """List the nearest services to a district capital, with distance."""
    from centinela.public.directory import ServiceError, nearest

    try:
        with _session() as session:
            found = [n.as_dict() for n in nearest(session, ubigeo, limit, kind, _now())]
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for s in found:
        typer.echo(json.dumps(s, ensure_ascii=False) if as_json else
                   f"{s['distance_km']:7.1f} km  {s['name']} ({s['district']}) {s['phone']}")
