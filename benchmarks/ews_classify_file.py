"""Throughput of ``centinela ews classify --file F --json`` (one JSON line per structure).

Two files, each classified end to end by the CLI in a fresh process (start-up included):
registry hits (names and SMILES of registry substances, written in many atom orders, with
repeats as in a laboratory feed) and novel structures (distinct enumerated analogues of the
opioid families, none in the registry). The baseline, run in this same process, is the
pre-issue path: ``classify(text).as_dict()`` then ``json.dumps`` for each line, one process.

    python3 benchmarks/ews_classify_file.py [--n 20000] [--novel 6000] [--processes 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rdkit import Chem

from centinela.ews.classify import classify
from centinela.ews.registry import registry

ACYLS = ["CC", "C", "CCC", "C(C)C", "CCCC", "C=C", "C1CC1", "o1cccc1", "COC", "O1CCCC1",
         "c1ccccc1", "CC=C", "C1CCCC1", "OCC", "CC(F)(F)F", "CCCCC"]
ANILINES = ["c1ccccc1", "c1ccc(F)cc1", "c1ccccc1F", "c1ccc(Cl)cc1", "c1ccc(OC)cc1", "c1ccccn1",
            "c1cccs1", "c1ccc(C)cc1", "c1cccc(F)c1", "c1ccncc1", "c1ccc(Br)cc1"]
PHENETHYL = ["CCc2ccc(Cl)cc2", "CCc2ccsc2", "C(CC)Cc2ccccc2", "CC(OC)c2ccccc2",
             "CCc2ccc(C)cc2", "CCc2cccnc2", "CCC2CCCC2", "CCc2ccc(OCC)cc2", "CCc2cocc2"]
PIPERIDINES = ["C1CCN({pe})CC1CC", "C1(C(=O)OCC)CCN({pe})CC1", "C1(CCOC)CCN({pe})CC1",
               "C1CCN({pe})CC1Cl"]
NITAZENE_O = ["C", "CC", "CCC", "C(C)C", "CCCC", "CC(C)C", "CCCCC", "FC(F)(F)", "FC(F)C"]
NITAZENE_N = ["N(CC)CC", "N1CCCC1", "N1CCCCC1", "NCC", "N(C)C", "N(C)CC", "N1CCOCC1",
              "N(CCC)CCC"]
NITAZENE_R = ["[N+](=O)[O-]", "", "C(F)(F)F", "N", "C#N", "Cl"]


def novel_structures(n: int) -> list[str]:
    """Distinct unlisted analogues: fentanyl class and nitazenes (none in the registry)."""
    out: list[str] = []
    seen = {s.canonical_smiles for s in registry().substances}
    for o, am, r in itertools.product(NITAZENE_O, NITAZENE_N, NITAZENE_R):
        sub = f"cc({r})" if r else "cc"
        out.append(f"{o}Oc1ccc(Cc2nc3{sub}ccc3n2CC{am})cc1")
    for acyl, an, pe, pip in itertools.product(ACYLS, ANILINES, PHENETHYL, PIPERIDINES):
        out.append(f"{acyl}C(=O)N({an})" + pip.format(pe=pe))
    random.Random(7).shuffle(out)
    keep = []
    for s in out:
        mol = Chem.MolFromSmiles(s)
        can = Chem.MolToSmiles(mol) if mol is not None else None
        if can and can not in seen:
            seen.add(can)
            keep.append(s)
        if len(keep) >= n:
            break
    return keep


def registry_hits(n: int) -> list[str]:
    """Names (English, Spanish, synonyms) and SMILES in 10 atom orders of every entry."""
    pool: list[str] = []
    for s in registry().substances:
        pool += [s.name, s.name_es, *s.synonyms[:2]]
        mol = Chem.MolFromSmiles(s.smiles)
        for k in range(10):
            pool.append(Chem.MolToSmiles(mol, rootedAtAtom=(k * 7) % mol.GetNumAtoms())
                        if k else s.smiles)
    rng = random.Random(11)
    return [rng.choice(pool) for _ in range(n)]


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli_rate(lines: list[str], processes: int) -> tuple[float, int, float]:
    """(lines/s wall clock, item errors, lines per CPU-second of the CLI and its workers)."""
    cpu0 = _child_cpu()
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.txt"
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t = time.perf_counter()
        cli = [sys.executable, "-c", "from centinela.cli import app; app()"]
        out = subprocess.run([*cli, "ews", "classify", "--file",
                              str(f), "--json", "--processes", str(processes)],
                             capture_output=True, text=True, check=True, env=os.environ)
        dt = time.perf_counter() - t
    cpu = _child_cpu() - cpu0
    recs = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(recs) == len(lines)
    return len(lines) / dt, sum(1 for r in recs if r["error"]), len(lines) / cpu


def baseline_rate(lines: list[str]) -> tuple[float, float]:
    """(lines/s wall clock, lines per CPU-second) of the pre-issue path, in this process."""
    t, c = time.perf_counter(), time.process_time()
    for q in lines:
        json.dumps(classify(q).as_dict(), ensure_ascii=False)
    return len(lines) / (time.perf_counter() - t), len(lines) / (time.process_time() - c)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--novel", type=int, default=6000)
    ap.add_argument("--processes", type=int, default=2)
    a = ap.parse_args()
    hits, novel = registry_hits(a.n), novel_structures(a.novel)
    registry()  # loaded before timing the baseline
    classify("fentanyl")
    base_hits = baseline_rate(hits[:3000])
    base_novel = baseline_rate(novel[:1500])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label, lines, base, target in (("registry hits", hits, base_hits, 5000),
                                       ("novel structures", novel, base_novel, 1000)):
        for procs in sorted({1, a.processes}):
            rate, errors, per_cpu = cli_rate(lines, procs)
            print(f"{label}: {len(lines)} lines, {procs} process(es): {rate:,.0f}/s wall clock "
                  f"end to end (start-up included; {errors} item errors), {per_cpu:,.0f} per "
                  f"CPU-second; baseline in-process {base[0]:,.0f}/s wall, {base[1]:,.0f} per "
                  f"CPU-second -> {rate / base[0]:.2f}x wall, {per_cpu / base[1]:.2f}x CPU; "
                  f"target {target:,}/s -> {rate / target:.2f}x wall")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
