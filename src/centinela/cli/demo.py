"""``centinela demo``: generate a synthetic national year, import it, detect, route, serve.

The demo is the README's first command. It runs every step a real deployment runs, on
synthetic data, against the configured database (by default the SQLite file in the working
directory), and prints what each step did. Re-running it is safe: the data folder keeps a
manifest, the same files are re-imported as no-op duplicates and the alerts are updated.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

MANIFEST = "demo.json"


def _step(title: str, fn: Callable[[], Any]) -> Any:
    """Run one demo step under a heading, print how long it took and return its result."""
    typer.secho(f"\n== {title}", bold=True)
    t0 = time.perf_counter()
    out = fn()
    typer.echo(f"   ({time.perf_counter() - t0:.1f} s)")
    return out


def ensure_data(data_dir: Path, seed: int, scale: float, today: dt.date) -> dict:
    """Generate the synthetic year into ``data_dir`` unless the same one is already there.

    The year ends yesterday, so the web app's "last 12 months" views show the demo data.
    A folder made with the same seed and scale is reused (whatever day it was made), which
    keeps a second ``centinela demo`` idempotent against the same database.
    """
    from centinela.generate import DEFAULT_DAYS, generate

    manifest_path = data_dir / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("seed") == seed and manifest.get("scale") == scale:
            typer.echo(f"   reutilizando / reusing {data_dir} (seed {seed}, scale {scale}, "
                       f"desde / from {manifest['start']})")
            return manifest
    start = today - dt.timedelta(days=DEFAULT_DAYS)
    report = generate(data_dir, seed=seed, scale=scale, start=start, days=DEFAULT_DAYS)
    summary = report.as_dict()
    manifest = {"seed": seed, "scale": scale, "start": start.isoformat(), "days": DEFAULT_DAYS,
                "files": summary["files"], "planted": len(report.planted),
                "lookalikes": len(report.lookalikes)}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    typer.echo(f"   {data_dir}: " + ", ".join(f"{k} {v:,}" for k, v in summary["files"].items()))
    typer.echo(f"   escenarios sembrados / planted scenarios: {len(report.planted)}; "
               f"look-alikes legítimos / legitimate look-alikes: {len(report.lookalikes)} "
               f"(truth.jsonl)")
    return manifest


def _demo_professionals(session) -> dict[str, str]:
    """Pick the busiest real prescriber and pharmacist of the data for the demo accounts."""
    from sqlalchemy import func, select

    from centinela.ledger.records import Movement

    out: dict[str, str] = {}
    for role, col in (("prescriber", Movement.prescriber_id),
                      ("pharmacist", Movement.professional_id)):
        pid = session.scalar(select(col).where(Movement.event_type == "dispense",
                                               col.is_not(None))
                             .group_by(col).order_by(func.count().desc()).limit(1))
        if pid:
            out[role] = pid
    return out


def run_demo(data_dir: Path, seed: int, scale: float) -> list[tuple[str, str, str, str]]:
    """Run every step of the demo; return the demo users (username, password, role, scope)."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.authorities import seed_authorities
    from centinela.alerts.dispatch import dispatch_pending
    from centinela.alerts.query import routing_digest
    from centinela.db import create_schema, get_engine, session_factory, session_scope
    from centinela.detect.engine import run_all
    from centinela.ews.detectors import run as ews_run
    from centinela.ews.intake import sync_seizures
    from centinela.ingest.service import import_directory
    from centinela.ledger.summary import format_summary, national_summary
    from centinela.public.demo import demo_summary, seed_demo

    engine = get_engine()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    create_schema(engine)
    with session_scope(engine) as s:
        seed_authorities(s)

    _step("1. Datos sintéticos / synthetic national year",
          lambda: ensure_data(data_dir, seed, scale, now.date()))
    report = _step("2. Importación / import (validación, seudónimos, libro mayor)",
                   lambda: import_directory(engine, data_dir, channel="cli"))
    typer.echo(report.as_text())
    with session_scope(engine) as s:
        typer.echo(format_summary(national_summary(s)))

    detection = _step("3. Detección / detection (todos los detectores)", lambda: run_all(engine))
    for r in detection.results:
        if r.found or r.error:
            typer.echo(f"   {r.name:28} {r.found:5d}" + (f"  ERROR: {r.error}" if r.error else ""))
    typer.echo(f"   {detection.new} nuevas / new, {detection.updated} actualizadas / updated")

    def public_channels() -> list[str]:
        with session_scope(engine) as s:
            codes = seed_demo(s, now)
            lines = demo_summary(s, now)
        if codes:
            lines.insert(0, f"Códigos de seguimiento de las denuncias demo / demo follow-up "
                            f"codes: {', '.join(codes)}")
        return lines

    for line in _step("4. Canales públicos / public channels (denuncias, asistente)", public_channels):
        typer.echo(f"   {line}")

    def early_warning() -> dict:
        with session_scope(engine) as s:
            synced = sync_seizures(s)
            # Judged as of now, after the sync: the seizures it recorded became known after the
            # demo began, and a late lab result counts only once known (ews.detect).
            counts = ews_run(s, dt.datetime.now(dt.UTC).replace(tzinfo=None))
        return {"synced": synced, "counts": counts}

    ews = _step("5. Alerta temprana / early warning (incautaciones, denuncias, señales)",
                early_warning)
    typer.echo(f"   señales de incautaciones / seizure signals: {ews['synced']['new']} nuevas/new")
    for name, c in ews["counts"].items():
        typer.echo(f"   {name:28} {c['created'] + c['updated']:5d}")

    sent = _step("6. Enrutamiento y entrega / routing and delivery (bandeja / outbox)",
                 lambda: dispatch_pending(session_factory(engine), limit=100_000))
    typer.echo(f"   entregas realizadas / deliveries made: {sent}")
    with session_scope(engine) as s:
        for line in routing_digest(s, limit=12):
            typer.echo(f"   {line}")

    def customs() -> dict:
        from centinela.customs.generate import generate, write
        from centinela.customs.intake import import_parcels_file
        from centinela.customs.review import import_outcomes_file
        from centinela.customs.triage import triage

        folder = data_dir / "customs"
        if not (folder / "parcels.csv").is_file():
            write(generate(3000, seed), folder, images=150, seed=seed)
        with session_scope(engine) as s:
            counts = import_parcels_file(s, folder / "parcels.csv", None)
            import_outcomes_file(s, folder / "outcomes.csv", "demo", now)
            scored = triage(s, now)
        return {**counts, **scored}

    c = _step("7. Aduanas / customs parcel triage (SINTÉTICO / SYNTHETIC)", customs)
    typer.echo(f"   paquetes / parcels: {c['accepted']} nuevos / new, {c['scored']} puntuados / "
               f"scored, {c['images']} imágenes / images → /customs (usuario / user aduana)")

    def online() -> dict:
        from centinela.online.demo import seed_demo as seed_online

        with session_scope(engine) as s:
            return seed_online(s, data_dir / "online", now, seed).as_dict()

    o = _step("8. Monitoreo en línea / online-market monitoring (SINTÉTICO / SYNTHETIC)", online)
    typer.echo(f"   publicaciones / posts: {o['read']} leídas / read, {o['positive']} ofertas / "
               f"offers, {o['duplicates']} repetidas / repeated; pistas / leads: "
               f"{len(o['leads'])} → /online/leads")

    with session_scope(engine) as s:
        users = seed_demo_users(s, professionals=_demo_professionals(s))
    return users


app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("demo")
def demo_cmd(
    scale: float = typer.Option(1.0, "--scale",
                                help="1.0 ≈ un año nacional (~1 M movimientos); 0.1 es rápido."),
    seed: int = typer.Option(1, "--seed", help="Semilla del generador / generator seed."),
    data_dir: Path = typer.Option(Path("demo-data"), "--data-dir",
                                  help="Carpeta de los datos sintéticos / synthetic data folder."),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Servir la aplicación al final / serve the web app."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Demostración completa / full demo: generate, import, detect, route, serve."""
    from centinela.config import get_settings

    typer.echo("Centinela demo — TODOS LOS DATOS SON SINTÉTICOS / ALL DATA IS SYNTHETIC "
               f"(base de datos / database: {get_settings().database_url})")
    try:
        users = run_demo(data_dir, seed, scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.secho("\n== Usuarios demo / demo users (contraseñas nuevas en cada ejecución / "
                "fresh passwords each run)", bold=True)
    for username, password, role, scope in users:
        typer.echo(f"   {username:<10} {password:<14} {role:<18} {scope}")
    if not serve:
        typer.echo("\n--no-serve: listo / done. `centinela serve` sirve la aplicación.")
        return
    from centinela.cli.serving import serve_app

    typer.echo(f"\nCentinela en / at http://{host}:{port}/  (denuncias / reports: "
               f"http://{host}:{port}/reportar, asistente / assistant: "
               f"http://{host}:{port}/asistente) — Ctrl+C para salir / to stop")
    serve_app(host, port)
