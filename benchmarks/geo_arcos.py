"""Geographic outliers on real data: US county opioid pill shipments (DEA ARCOS, 2006–2014).

Source: The Washington Post's county summaries of the DEA ARCOS database
(github.com/wpinvestigative/arcos-api, `data/county_annual14.csv`, oxycodone and hydrocodone
dosage units shipped to each county's pharmacies and practitioners per year, and
`data/pop_counties_20062014.csv`, Census ACS 5-year county populations), ODbL 1.0 with The Post's
attribution request. A derived file (county, year, pills, population, name) ships in
`benchmarks/data/arcos_county_year_2006_2014.csv.gz` (ODbL 1.0; see docs/geo.md).

The benchmark writes the data as `centinela geo outliers` input (region = 5-digit FIPS, period =
year), runs the same code path as the command, and prints: how many counties are flagged, where
the places named in public reporting and court records rank (by score and by raw pills per
resident), how the top of the smoothed ranking differs from the raw one, and the time against a
baseline (reading the files and computing raw rates) in the same process.

    python3 benchmarks/geo_arcos.py [--source DIR] [--write]

``--source`` is a directory holding the two original CSVs (e.g. from a `fetch` of the
repository); without it the shipped derived file is used (one period of nine years).
``--write`` replaces the ``## Geographic outliers`` section of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DERIVED = HERE / "data" / "arcos_county_year_2006_2014.csv.gz"

# Places named in The Washington Post's 2019 reporting ("The Opioid Files") and in court records
# (West Virginia v. distributors; City of Huntington and Cabell County Commission v.
# AmerisourceBergen et al.; Virginia and Kentucky suits), with their FIPS codes.
DOCUMENTED = {
    "51720": "Norton city, VA",
    "51690": "Martinsville city, VA",
    "54059": "Mingo County, WV (Williamson, Kermit)",
    "54045": "Logan County, WV",
    "21193": "Perry County, KY",
    "54109": "Wyoming County, WV",
    "54047": "McDowell County, WV",
    "54011": "Cabell County, WV (Huntington)",
    "54005": "Boone County, WV",
    "21051": "Clay County, KY",
}


def load_original(source: Path) -> tuple[dict, dict, dict]:
    """Return ((fips, year) → pills, (fips, year) → population, fips → name) from the originals."""
    pills: dict = {}
    names: dict = {}
    with (source / "county_annual14.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            f = (r["countyfips"] or "").strip()
            if not f or f == "NA" or r["DOSAGE_UNIT"] in ("", "NA"):
                continue  # territories without a FIPS in the file
            k = (f.zfill(5), r["year"])
            pills[k] = pills.get(k, 0.0) + float(r["DOSAGE_UNIT"])
    pop: dict = {}
    with (source / "pop_counties_20062014.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            f = r["countyfips"].strip().zfill(5)
            if r["population"] in ("", "NA") or float(r["population"]) <= 0:
                continue
            pop[(f, r["year"])] = float(r["population"])
            names[f] = r["NAME"]
    pills = {k: v for k, v in pills.items() if k in pop}
    return pills, pop, names


def load_derived() -> tuple[dict, dict, dict]:
    """Return the same from the shipped derived file."""
    import gzip

    pills, pop, names = {}, {}, {}
    with gzip.open(DERIVED, "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            k = (r["fips"], r["year"])
            pills[k] = float(r["pills"])
            pop[k] = float(r["population"])
            names[r["fips"]] = r["name"]
    return pills, pop, names


def write_derived(pills: dict, pop: dict, names: dict) -> None:
    """Write the derived file: fips, year, pills, population, name (gzip, ODbL)."""
    import gzip

    DERIVED.parent.mkdir(exist_ok=True)
    with gzip.open(DERIVED, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fips", "year", "pills", "population", "name"])
        for (f, y), p in sorted(pop.items()):
            w.writerow([f, y, int(pills.get((f, y), 0)), int(p), names.get(f, "")])


def totals(pills: dict, pop: dict) -> tuple[dict, dict]:
    """Collapse the years into one period (what a single-period file gives the method): mean
    pills per year over mean population, so rates keep their unit (pills per resident per year)."""
    tp: dict = {}
    tn: dict = {}
    years = len({y for _, y in pop})
    for (f, _y), p in pop.items():
        tn[(f, "all")] = tn.get((f, "all"), 0.0) + p / years
        tp[(f, "all")] = tp.get((f, "all"), 0.0) + pills.get((f, _y), 0.0) / years
    return tp, tn


def write_inputs(tmp: Path, pills: dict, pop: dict, names: dict) -> tuple[Path, Path]:
    counts, popf = tmp / "counts.csv", tmp / "pop.csv"
    with counts.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "period", "quantity", "name"])
        for (f, y), v in sorted(pills.items()):
            w.writerow([f, y, v, names.get(f, "")])
    with popf.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "period", "population"])
        for (f, y), v in sorted(pop.items()):
            w.writerow([f, y, v])
    return counts, popf


def evaluate(pills: dict, pop: dict, names: dict) -> dict:
    """Run the command's code path on one data set; return figures and timings."""
    from centinela.geo.tables import read_tables, run

    with tempfile.TemporaryDirectory() as d:
        counts, popf = write_inputs(Path(d), pills, pop, names)
        # Baseline: read the files and rank raw rates (what a per-capita map does).
        t0 = time.perf_counter()
        table = read_tables(counts, popf)
        raw = table.quantity / table.exposure
        _ = np.argsort(-raw)
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = read_tables(counts, popf)
        res, rows = run(table)
        t_full = time.perf_counter() - t0
    by_region = {r["region"]: r for r in rows}
    raw_order = np.argsort(-raw, kind="stable")
    raw_rank = {table.regions[i]: k + 1 for k, i in enumerate(raw_order)}
    top_smooth = [r["region"] for r in rows[:20]]
    top_raw = [table.regions[i] for i in raw_order[:20]]
    return {"rows": rows, "res": res, "by_region": by_region, "raw_rank": raw_rank,
            "top_smooth": top_smooth, "top_raw": top_raw, "t_base": t_base, "t_full": t_full,
            "periods": sorted({y for _, y in pills}), "flagged": sum(r["flagged"] for r in rows)}


def section(ev: dict, title: str) -> list[str]:
    rows, res, by_region, raw_rank = ev["rows"], ev["res"], ev["by_region"], ev["raw_rank"]
    m = len(rows)
    lines = [f"**{title}: {m} counties, {ev['flagged']} flagged ({100 * ev['flagged'] / m:.1f} %).** "
             f"Fitted: dispersion φ = {res.params['dispersion']:.4g} pills, between-county spread "
             f"τ = {res.params['tau']:.3f} (log scale), threshold ratio c = "
             f"{res.params['threshold_ratio']:.2f}, national rate "
             f"{res.params['national_rate']:.1f} pills per resident per year.", "",
             "| place named in reporting / court records | rank (smoothed) | rank (raw) | "
             "pills per resident | smoothed | ratio to expected | score (z) | flagged | population |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f, label in DOCUMENTED.items():
        r = by_region.get(f)
        if r is None:
            continue
        lines.append(f"| {label} | {r['rank']} | {raw_rank[f]} | {r['rate']:.1f} | "
                     f"{r['smoothed_rate']:.1f} | {r['ratio']:.2f} | {r['score']:.1f} | "
                     f"{'yes' if r['flagged'] else 'no'} | {r['population']:,.0f} |")
    lines += ["", "| rank | county (top 10 smoothed) | pills per resident | smoothed | score (z) | "
              "flagged | raw rank | population |", "|---|---|---|---|---|---|---|---|"]
    for r in rows[:10]:
        lines.append(f"| {r['rank']} | {r['name']} | {r['rate']:.1f} | {r['smoothed_rate']:.1f} | "
                     f"{r['score']:.1f} | {'yes' if r['flagged'] else 'no'} | "
                     f"{raw_rank[r['region']]} | {r['population']:,.0f} |")
    top_raw, top_smooth = ev["top_raw"], ev["top_smooth"]
    overlap = len(set(top_smooth) & set(top_raw))
    dropped = [f for f in top_raw if f not in top_smooth]
    lines += ["", f"Smoothed versus raw: {overlap} of the raw top 20 stay in the smoothed top 20. "
              "Raw top 20 pushed out: " + (", ".join(
                  f"{by_region[f]['name']} (raw {raw_rank[f]} → {by_region[f]['rank']}, "
                  f"pop. {by_region[f]['population']:,.0f})" for f in dropped) or "none") + ".",
              "", f"Time: {1000 * ev['t_full']:.0f} ms (read, fit, score, rank), "
              f"{ev['t_full'] / ev['t_base']:.2f}× the baseline of reading the same files and "
              f"ranking raw rates ({1000 * ev['t_base']:.0f} ms) in the same process.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--write-derived", action="store_true", help="refresh the shipped derived CSV")
    args = ap.parse_args()
    if args.source:
        pills, pop, names = load_original(args.source)
        if args.write_derived:
            write_derived(pills, pop, names)
    else:
        pills, pop, names = load_derived()
    yearly = evaluate(pills, pop, names)
    tp, tn = totals(pills, pop)
    single = evaluate(tp, tn, names)
    periods = yearly["periods"]
    lines = [
        "## Geographic outliers (issue 22)", "",
        f"`python3 benchmarks/geo_arcos.py{' --source DIR' if args.source else ''}` on "
        f"{platform.machine()} with {os.cpu_count()} cores (Python {platform.python_version()}), "
        f"load average {os.getloadavg()[0]:.1f}. **Real data**: DEA ARCOS oxycodone and "
        f"hydrocodone dosage units shipped to US counties, {periods[0]}–{periods[-1]}, with Census "
        "populations, as summarized by The Washington Post (ODbL; source and licence in "
        "`docs/geo.md`). Same code path as `centinela geo outliers`: no covariates, FDR 5 %, "
        "min ratio 1.5. Run twice: with the yearly rows (the year-to-year variation measures the "
        "sampling noise φ) and with the nine years collapsed into one period (φ only from the "
        "cross-section, so far more cautious).", "",
    ]
    lines += section(yearly, f"Yearly rows ({len(periods)} periods)")
    lines += section(single, "One period (nine-year totals)")
    text = "\n".join(lines)
    print(text)
    if args.write:
        readme = HERE / "README.md"
        body = readme.read_text(encoding="utf-8")
        head = "## Geographic outliers (issue 22)"
        if head in body:
            start = body.index(head)
            nxt = body.find("\n## ", start + len(head))
            body = body[:start] + text + (body[nxt:] if nxt >= 0 else "\n")
        else:
            body = body.rstrip("\n") + "\n\n" + text
        readme.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
