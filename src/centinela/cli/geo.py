"""Geographic commands: ``centinela geo outliers`` (per-capita outliers of any country's regions)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Análisis geográfico / geographic analysis (per-capita outliers).",
                  no_args_is_help=True)


@app.command("outliers")
def outliers_cmd(
    counts: Path = typer.Option(..., "--counts", help="CSV: region,period,quantity[,name]."),
    population: Path = typer.Option(..., "--population", help="CSV: region,period,population."),
    covariates: Path = typer.Option(None, "--covariates",
                                    help="CSV: region and numeric columns that explain use "
                                         "(e.g. log of beds per 1 000 residents)."),
    q: float = typer.Option(0.05, "--fdr", min=1e-6, max=0.5,
                            help="False discovery rate of the Benjamini–Hochberg control."),
    min_ratio: float = typer.Option(1.5, "--min-ratio", min=1.0,
                                    help="Flag only smoothed rates at least this many times expected."),
    dispersion: float = typer.Option(None, "--dispersion", min=1e-12,
                                     help="Variance ÷ mean of a region's quantity (1 for counts of "
                                          "independent events such as prescriptions); estimated "
                                          "from the data when omitted."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per region and line."),
) -> None:
    """Lugares que consumen mucho más de lo que explica su población / regions that consume far
    more than their population explains (empirical-Bayes smoothing, multiple-testing control)."""
    from centinela.geo.tables import GeoInputError, read_tables, run

    try:
        table = read_tables(counts, population, covariates)
    except GeoInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for note in table.notes:
        typer.echo(f"note: {note}", err=True)
    res, rows = run(table, q=q, min_ratio=min_ratio, dispersion=dispersion)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    flagged = int(res.flagged.sum())
    typer.echo(f"{len(rows)} regiones, {flagged} señaladas (FDR {q:.0%}) / {len(rows)} regions, "
               f"{flagged} flagged; dispersion φ = {res.params.get('dispersion', 0):.4g}, "
               f"τ = {res.params.get('tau', 0):.3f}")
    typer.echo(f"{'rank':>5} {'region':12} {'name':28} {'rate':>11} {'expected':>11} "
               f"{'smoothed':>11} {'score':>7} flag")
    for row in rows[: max(20, flagged)]:
        typer.echo(f"{row['rank']:5d} {row['region'][:12]:12} {row['name'][:28]:28} "
                   f"{row['rate']:11.4g} {row['expected']:11.4g} {row['smoothed_rate']:11.4g} "
                   f"{row['score']:7.2f} {'*' if row['flagged'] else ''}")
