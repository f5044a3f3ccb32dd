"""Synthetic national generator with planted diversion scenarios.

``generate(out_dir, seed=..., scale=...)`` writes the reporting-format files of a synthetic
year of Peru (see ``docs/generator.md``); the same seed and scale give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centinela.config import get_settings
from centinela.generate import catalog, plant_mill, planting, seizures
from centinela.generate.sim import Mods, Sim
from centinela.generate.world import World, build_world
from centinela.generate.writer import TableWriter

DEFAULT_START = dt.date(2025, 7, 1)
DEFAULT_DAYS = 365
MAX_DAYS = 11 * 366  # ten national years for the scale benchmark (≈ 10 M movements at scale 1)
FORMATS = ("csv", "jsonl")

README = """DATOS SINTÉTICOS / SYNTHETIC DATA — Centinela generator

Estos archivos son ficticios: ningún paciente, profesional, movimiento ni incautación es real.
These files are invented: no patient, professional, movement or seizure is real.

Real reference data used: INEI 2025 district populations (ubigeo) and the names, districts,
categories and beds of 241 operating IPRESS hospitals (MINSA registry). Everything else
(registry codes, RUCs, college numbers, lots, serials, patients) is synthetic.

seed={seed} scale={scale} start={start} days={days} format={fmt} scenarios={scen}
truth.jsonl lists the planted diversion scenarios ("kind": "planted") and the legitimate
look-alikes ("kind": "lookalike") that a good detector must not flag.
"""


@dataclass
class GenerationReport:
    """What a generation run wrote."""

    out_dir: Path
    seed: int
    scale: float
    start: dt.date
    days: int
    fmt: str
    files: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    truth: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    quirks: dict[str, int] = field(default_factory=dict)

    @property
    def planted(self) -> list[dict]:
        return [t for t in self.truth if t["kind"] == "planted"]

    @property
    def lookalikes(self) -> list[dict]:
        return [t for t in self.truth if t["kind"] == "lookalike"]

    def as_dict(self) -> dict:
        """Return a JSON-ready summary."""
        return {
            "out_dir": str(self.out_dir), "seed": self.seed, "scale": self.scale,
            "start": self.start.isoformat(), "days": self.days, "format": self.fmt,
            "files": self.files, "events": self.events,
            "planted": len(self.planted), "lookalikes": len(self.lookalikes),
            "scenarios": sorted({t["scenario"] for t in self.planted}),
            "seconds": round(self.seconds, 2), "quirks": self.quirks,
        }


def generate(out_dir: str | Path, seed: int = 1, scale: float = 0.2, scenarios: bool = True,
             start: dt.date | str = DEFAULT_START, days: int = DEFAULT_DAYS,
             fmt: str = "csv", noise: bool = False,
             psychotropics: bool = False, progress=None) -> GenerationReport:
    """Write a synthetic year of movements (and planted scenarios) into ``out_dir``.

    ``noise`` turns on the realistic-noise mode (``centinela.generate.noise``): reporting
    quirks of honest establishments, a partial last month and a national winter peak.
    ``psychotropics`` adds benzodiazepines and other special-prescription medicines
    (``centinela.generate.psychotropics``).
    """
    t0 = time.perf_counter()
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not 0 < scale <= 20:
        raise ValueError(f"scale must be in (0, 20], not {scale}")
    if not 28 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 28 and {MAX_DAYS}, not {days}")
    if noise and days == DEFAULT_DAYS:
        days += 12  # the data end part-way through a month, as a live system's always do
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    rng = catalog.FastRandom(seed)
    nprng = np.random.default_rng(seed)
    world = build_world(rng, scale, start, days, settings.certification_deadline,
                        settings.certification_valid_days)
    mods = Mods()
    plan = (planting.plan(world, catalog.FastRandom(seed * 7919 + 1), mods, settings,
                          mill_rng=catalog.FastRandom(seed * 6007 + 17))
            if scenarios else None)
    exclude = {int(x) for x in plan.notes.get("no_background_loss", "").split(",") if x} \
        if plan else set()
    exclude |= {est for _d, est, _k, _q in mods.losses}
    _background_losses(world, catalog.FastRandom(seed * 13 + 5), mods, exclude)
    if noise:
        _winter_peak(world, mods, start, days)
    report = GenerationReport(out, seed, scale, start, days, fmt)
    moves = TableWriter(out, "movements", fmt)
    quirks = None
    try:
        sink = moves.write_plain
        if noise:
            from centinela.generate.noise import Noise

            quirks = Noise(world, catalog.FastRandom(seed * 104729 + 3), moves.write_plain,
                           protected=set(plan.used_est) if plan else set())
            sink = quirks.day_rows
        sim = Sim(world, rng, nprng, mods, sink)
        sim.on_day = progress  # (days done, days) after each simulated day, when given
        sim.run()
        if quirks is not None:
            quirks.flush()
            report.quirks = dict(quirks.counts)
        if plan is not None:  # the prescription mill and its look-alikes (plant_mill)
            side = plant_mill.side_rows(plan)
            moves.write_plain(side)
            for r in side:
                sim.counts[r[1]] += 1
    finally:
        moves.close()
    report.files["movements"] = moves.count
    report.events = dict(sorted(sim.counts.items()))
    seized = seizures.background(random.Random(seed * 31 + 7), start, days, scale)
    truth: list[dict] = []
    if plan is not None:
        truth = plan.finish(sim, seized)
    _write_registry(out, fmt, world, report)
    seized.sort(key=lambda r: (r[1], r[0]))
    _write(out, fmt, "seizures", seized, report)
    with (out / "truth.jsonl").open("w", encoding="utf-8", newline="") as fh:
        for row in truth:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    if psychotropics:  # benzodiazepines and other special-prescription medicines
        from centinela.generate.psychotropics import add_psychotropics

        extra = add_psychotropics(out, seed, fmt)
        report.files["movements"] += extra["movements"]
        truth = truth + extra["truth"]
    report.files["truth"] = len(truth)
    report.truth = truth
    (out / "README.txt").write_text(README.format(seed=seed, scale=scale, start=start, days=days,
                                                  fmt=fmt, scen=scenarios), encoding="utf-8")
    report.seconds = time.perf_counter() - t0
    return report



def _winter_peak(world: World, mods: Mods, start: dt.date, days: int) -> None:
    """A legitimate seasonal peak: 15 % more surgical and ICU cases nationally, June–August
    (the southern winter's respiratory season), on top of the mild monthly factors."""
    for d in range(days):
        day = start + dt.timedelta(days=d)
        if day.month == 6 and day.day == 1:
            d1 = min(days - 1, d + 91)
            for h in world.hospitals + world.clinics:
                mods.case_mult.setdefault(h, []).append((d, d1, 1.15))


def _background_losses(world: World, rng: catalog.FastRandom, mods: Mods,
                       exclude: set[int]) -> None:
    """Rare legitimate losses: about one hospital or clinic in ten breaks an ampoule once."""
    days = (world.end - world.start).days + 1
    for h in world.hospitals + world.clinics:
        if h not in exclude and rng.random() < 0.1:
            mods.losses.append((rng.randint(10, days - 10), h, rng.choice(("fen2", "mora")), 1))


def _write(out: Path, fmt: str, table: str, rows: list[tuple], report: GenerationReport) -> None:
    w = TableWriter(out, table, fmt)
    try:
        w.write(rows)
    finally:
        w.close()
    report.files[table] = w.count


def _write_registry(out: Path, fmt: str, world: World, report: GenerationReport) -> None:
    ests = [(e.id, e.name, e.kind, e.sector, e.ubigeo, e.ruc,
             "true" if e.authorized else "false", e.expires.isoformat() if e.expires else "")
            for e in world.ests]
    _write(out, fmt, "establishments", ests, report)
    profs = [(p.id, p.role, p.name, p.specialty, world.ests[p.est].id, p.ubigeo,
              p.certified_on.isoformat() if p.certified_on else "", p.certificate_id)
             for p in world.profs]
    _write(out, fmt, "professionals", profs, report)
    prods = [(p.code, p.name, p.substance, p.dosage_form, f"{p.strength_mg:g}",
              f"{p.patch_mcg_h:g}" if p.patch_mcg_h else "", str(p.units_per_pack))
             for p in catalog.PRODUCTS]
    _write(out, fmt, "products", prods, report)


__all__ = ["DEFAULT_DAYS", "DEFAULT_START", "FORMATS", "GenerationReport", "generate"]
