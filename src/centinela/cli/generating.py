"""``centinela generate``: write a synthetic national year in the reporting format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from centinela.generate import DEFAULT_DAYS, DEFAULT_START, FORMATS, generate

app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("generate")
def generate_cmd(
    out_dir: Path = typer.Argument(..., help="Carpeta de salida / output folder."),
    seed: int = typer.Option(1, "--seed", help="Semilla: misma semilla y escala, mismos bytes."),
    scale: float = typer.Option(
        0.2, "--scale", help="1.0 ≈ un año nacional (~1 M movimientos) / a national year."),
    scenarios: bool = typer.Option(
        True, "--scenarios/--no-scenarios", help="Sembrar escenarios de desvío / plant diversion."),
    fmt: str = typer.Option("csv", "--format", help="csv o jsonl."),
    start: str = typer.Option(DEFAULT_START.isoformat(), "--start",
                              help="Primer día (YYYY-MM-DD) / first day."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", help="Número de días / number of days."),
    as_json: bool = typer.Option(False, "--json", help="Imprimir el resumen en JSON."),
    noise: bool = typer.Option(
        False, "--noise/--clean",
        help="Ruido realista de reporte (docs/generator.md) / realistic reporting quirks."),
    psychotropics: bool = typer.Option(
        False, "--psychotropics", help="Añadir benzodiacepinas y otros psicotrópicos "
        "controlados / add benzodiazepines and other controlled psychotropics."),
    years: int = typer.Option(
        0, "--years", help="Años nacionales seguidos (reemplaza --days) / consecutive years "
        "(overrides --days; 10 at --scale 1 ≈ 10 M movements)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Sin barra de progreso / no progress bar."),
) -> None:
    """Generar datos sintéticos / generate synthetic data (movements, registry, truth)."""
    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"--start must be YYYY-MM-DD, got {start!r}") from None
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if years < 0:
        raise typer.BadParameter(f"--years must be 0 or more, got {years}")
    if years:
        days = (first.replace(year=first.year + years, day=min(first.day, 28)) - first).days
    from centinela.cli.progress import bar, wanted

    try:
        with bar(wanted(quiet, as_json), "Generación / generation (días / days)",
                 total=days) as advance:
            report = generate(out_dir, seed=seed, scale=scale, scenarios=scenarios,
                              start=first, days=days, fmt=fmt, noise=noise,
                              psychotropics=psychotropics,
                              progress=lambda done, _total: advance(completed=done))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    summary = report.as_dict()
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    typer.echo(f"Datos sintéticos escritos en / synthetic data written to {out_dir} "
               f"({summary['seconds']} s, seed {seed}, scale {scale}, "
               f"{report.start} + {days} días)")
    for name, n in summary["files"].items():
        typer.echo(f"  {name:<15} {n:>10,}")
    typer.echo("  eventos / events: " + ", ".join(f"{k} {v:,}" for k, v in report.events.items()))
    typer.echo(f"  escenarios sembrados / planted: {len(report.planted)}; "
               f"look-alikes legítimos: {len(report.lookalikes)} (truth.jsonl)")
