"""``centinela customs …``: import manifests and images, triage, review queue, synthetic data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

app = typer.Typer(help="Aduanas: triaje de paquetes / customs parcel triage.",
                  no_args_is_help=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _engine():
    from centinela.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


def _find(directory: Path, stem: str) -> Path | None:
    for ext in (".csv", ".jsonl"):
        if (directory / f"{stem}{ext}").is_file():
            return directory / f"{stem}{ext}"
    return None


@app.command("import")
def import_cmd(
    directory: Path = typer.Argument(..., help="Folder with parcels.csv|.jsonl, the images it "
                                     "names, and optionally outcomes.csv|.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Import parcel declarations (and images, outcomes); rejected rows are kept with reasons."""
    from centinela.customs.intake import import_parcels_file
    from centinela.customs.review import import_outcomes_file
    from centinela.db import session_scope
    from centinela.ledger.records import ImportRun

    parcels = _find(directory, "parcels")
    if parcels is None:
        typer.echo(f"error: {directory}: no parcels.csv or parcels.jsonl", err=True)
        raise typer.Exit(2)
    now = _now()
    with session_scope(_engine()) as session:
        run = ImportRun(source=str(directory)[:500], channel="cli", started_at=now,
                        status="running", summary={})
        session.add(run)
        session.flush()
        counts = {"parcels": import_parcels_file(session, parcels, run.id)}
        outcomes = _find(directory, "outcomes")
        if outcomes is not None:
            counts["outcomes"] = import_outcomes_file(session, outcomes, "import", now)
        p = counts["parcels"]
        run.accepted, run.duplicates = p["accepted"], p["duplicates"]
        run.conflicts, run.rejected = p["conflicts"], p["rejected"] + p["images_rejected"]
        run.status, run.finished_at, run.summary = "done", _now(), counts
        counts["import_id"] = run.id
    if as_json:
        typer.echo(json.dumps(counts))
        return
    typer.echo(f"paquetes / parcels: {p['accepted']} aceptados, {p['duplicates']} duplicados, "
               f"{p['conflicts']} conflictos, {p['rejected']} rechazados; imágenes / images: "
               f"{p['images']} (+{p['images_rejected']} rechazadas)")
    if "outcomes" in counts:
        typer.echo(f"resultados / outcomes: {counts['outcomes']['applied']} aplicados, "
                   f"{counts['outcomes']['rejected']} rechazados")
    if p["rejected"] or p["conflicts"] or p["images_rejected"]:
        typer.echo(f"ver rechazos / see rejections: import {run.id} (/imports)")


@app.command("triage")
def triage_cmd(
    rescore: bool = typer.Option(False, "--rescore", help="Score every parcel again."),
    top: int = typer.Option(20, "--top", help="Parcels of the queue to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the queue as JSON lines."),
) -> None:
    """Score parcels (manifest factors + X-ray images) and print the review queue."""
    from centinela.customs.review import queue
    from centinela.customs.triage import triage
    from centinela.db import session_scope

    with session_scope(_engine()) as session:
        counts = triage(session, _now(), rescore=rescore)
        rows = queue(session, limit=top)
        if as_json:
            for p in rows:
                typer.echo(json.dumps({
                    "tracking_id": p.tracking_id, "combined_score": p.combined_score,
                    "manifest_score": p.manifest_score, "image_score": p.image_score,
                    "factors": p.factors, "regions": p.regions}, ensure_ascii=False))
            return
        typer.echo(f"{counts['scored']} paquetes puntuados / parcels scored "
                   f"({counts['images']} imágenes; modelo {counts['model']})")
        for p in rows:
            why = ", ".join(f["factor"] for f in p.factors[:3])
            img = f"{p.image_score:.2f}" if p.image_score is not None else "—"
            typer.echo(f"{p.combined_score:.3f}  {p.tracking_id:<28} {p.origin_country} "
                       f"img {img}  {why}")


@app.command("generate")
def generate_cmd(
    directory: Path = typer.Argument(..., help="Folder to write (created if missing)."),
    parcels: int = typer.Option(5000, "--parcels", min=10, max=1_000_000),
    images: int = typer.Option(300, "--images", min=0, help="Parcels that get an X-ray image "
                               "(planted ones first)."),
    seed: int = typer.Option(1, "--seed"),
) -> None:
    """Write SYNTHETIC manifests, X-ray images and outcomes with planted parcels (truth.json)."""
    from centinela.customs.generate import generate, write

    counts = write(generate(parcels, seed), directory, images=images, seed=seed)
    typer.echo(f"SINTÉTICO / SYNTHETIC: {counts['parcels']} paquetes, {counts['planted']} "
               f"sembrados, {counts['images']} imágenes, {counts['history_seizures']} "
               f"decomisos previos → {directory}")


@app.command("train-detector")
def train_cmd(
    images: int = typer.Option(1200, "--images", min=50),
    seed: int = typer.Option(7, "--seed"),
    out: Path = typer.Option(None, "--out", help="Model file (default: the shipped one)."),
) -> None:
    """Train the baseline X-ray detector on SYNTHETIC images (writes .joblib and .json)."""
    from centinela.customs.imaging.detector import train

    meta = train(images, seed, out)
    typer.echo(f"{meta['path']}: {meta['bytes'] / 1e6:.2f} MB, {meta['n_cells']} cells, "
               f"{meta['trained_on']}")


@app.command("fit-manifest")
def fit_cmd() -> None:
    """Refit the manifest weights from officers' outcomes (keeps expert weights if too few)."""
    from sqlalchemy import select

    from centinela.customs.models import Parcel
    from centinela.customs.scoring import features, fit
    from centinela.customs.triage import COLUMNS, build_watchlist, model_path
    from centinela.db import session_scope

    with session_scope(_engine()) as session:
        rows = session.execute(select(*[getattr(Parcel, c) for c in COLUMNS], Parcel.outcome)
                               .order_by(Parcel.arrived_at)).all()
        dicts = [dict(zip(COLUMNS, r[:-1], strict=True)) for r in rows]
        x = features(dicts, build_watchlist(session, _now()))
        import numpy as np

        decided = np.array([r[-1] is not None for r in rows])
        y = np.array([r[-1] == "seized" for r in rows], dtype=float)
        model = fit(x[decided], y[decided])
    model.save(model_path())
    typer.echo(f"{model_path()}: {model.source}")


@app.command("evaluate")
def evaluate_cmd() -> None:
    """Print how the scores fared against officers' outcomes (JSON)."""
    from centinela.customs.review import outcome_evaluation
    from centinela.db import session_scope

    with session_scope(_engine()) as session:
        typer.echo(json.dumps(outcome_evaluation(session), indent=2))
