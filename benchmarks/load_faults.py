"""Load and fault campaign: concurrent citizens, assistant users and analysts against
``centinela serve`` while an import and detection run; kill -9 of the server and of an import.

Loopback only, bounded (each phase stops by itself), synthetic data from ``centinela generate``.
For each database (a SQLite file; PostgreSQL too when reachable) and each client count it runs a
load phase, kills the server with SIGKILL part-way and starts it again, then counts:

* sent / answered 2xx / 4xx / 5xx (must be 0) / refused while the server was down;
* accepted reports (answered 201/200 with a follow-up code) and how many of those are stored;
  lost = accepted but not stored (must be 0); p50/p95 latency of answered requests, and the
  same-process baseline (p50 of ``/healthz`` with one client, before the load);
* an import killed with SIGKILL mid-way, then re-run: nothing half-stored (no conflicts,
  accepted + duplicates + rejected = read);
* the audit chain (written concurrently by analysts reading patient profiles) verifies with
  ``centinela audit verify`` against the signed checkpoints; edited, truncated and rewritten
  copies must fail it.

    python3 benchmarks/load_faults.py                   # 8 and 32 clients, 20 s each
    python3 benchmarks/load_faults.py --seconds 5 --clients 8 --no-postgres   # quick look
    python3 benchmarks/load_faults.py --write-readme    # update benchmarks/README.md
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
PG_URL = os.environ.get("CENTINELA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = secrets.token_urlsafe(32)
PASSWORD = "carga-nocturna-7731-lf"
QUESTIONS = ["¿Qué es el fentanilo?", "signos de sobredosis de opioides",
             "dónde consigo naloxona en Lima", "what is naloxone", "¿es delito vender fentanilo?",
             "tratamiento para dependencia a opioides", "mi amigo no respira qué hago"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))] * 1000


class Env:
    """The environment of every centinela process of one database."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.vars = {**os.environ,
                     "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
                     "CENTINELA_DATABASE_URL": url, "CENTINELA_DATA_DIR": str(data_dir),
                     "CENTINELA_ENVIRONMENT": "development",
                     "CENTINELA_PSEUDONYM_KEY": secrets.token_urlsafe(32),
                     "CENTINELA_SECRET_KEY": SECRET, "CENTINELA_AUDIT_KEY": secrets.token_urlsafe(32),
                     "CENTINELA_AUDIT_CHECKPOINT_INTERVAL_S": "5",
                     "CENTINELA_DETECT_INTERVAL_S": "15",
                     "CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS": "0",
                     "CENTINELA_PUBLIC_REPORTS_PER_DAY": "1000000000",
                     "CENTINELA_PUBLIC_ASKS_PER_MINUTE": "1000000000",
                     "CENTINELA_NEW_PASSWORD": PASSWORD}

    def cli(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "from centinela.cli import main; main()",
                               *args], env={**self.vars, **env}, capture_output=True, text=True,
                              timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "from centinela.cli import main; main()",
                                 *args], env=self.vars, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)


class Server:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from centinela.cli import main; main()", "serve",
             "--port", str(self.port), "--no-scheduler"], env=self.env.vars, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter = Counter()
        self.latency: list[float] = []
        self.codes: list[str] = []
        self.refused = 0
        self.sent = 0

    def add(self, status: int, seconds: float, code: str | None = None) -> None:
        with self.lock:
            self.sent += 1
            self.status[status] += 1
            self.latency.append(seconds)
            if code:
                self.codes.append(code)

    def down(self) -> None:
        with self.lock:
            self.sent += 1
            self.refused += 1


def _answer(question: str) -> str:
    a, b = (int(x) for x in question.split("+"))
    return str(a + b)


def reporter(base: str, stop: threading.Event, stats: Stats, n: int) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        try:
            with httpx.Client(base_url=base, timeout=60) as http:
                ch = http.get("/api/v1/reports/challenge").json()
                t = time.perf_counter()
                r = http.post("/api/v1/reports", json={
                    "kind": "fentanyl_no_rx", "ubigeo": "150101",
                    "text": f"venden ampollas de fentanilo sin receta en el puesto {n}-{i}",
                    "challenge": {"token": ch["token"], "answer": _answer(ch["question"])}})
                code = r.json().get("code") if r.status_code == 201 else None
                stats.add(r.status_code, time.perf_counter() - t, code)
        except (httpx.TransportError, ValueError):
            stats.down()
            time.sleep(0.3)


def asker(base: str, stop: threading.Event, stats: Stats, n: int) -> None:
    i = n
    with httpx.Client(base_url=base, timeout=60) as http:
        while not stop.is_set():
            i += 1
            t = time.perf_counter()
            try:
                r = http.post("/api/v1/assistant/ask",
                              json={"question": QUESTIONS[i % len(QUESTIONS)]})
                stats.add(r.status_code, time.perf_counter() - t)
            except httpx.TransportError:
                stats.down()
                time.sleep(0.3)


def analyst(base: str, stop: threading.Event, stats: Stats, patients: list[str]) -> None:
    i = 0
    while not stop.is_set():
        try:
            with httpx.Client(base_url=base, timeout=60) as http:
                http.get("/login")
                token = http.cookies.get("centinela_csrf")
                r = http.post("/login", data={"username": "analista", "password": PASSWORD,
                                              "csrf_token": token})
                http.get("/healthz")
                http.headers["X-CSRF-Token"] = http.cookies.get("centinela_csrf") or ""
                while not stop.is_set():
                    i += 1
                    t = time.perf_counter()
                    r = http.get(f"/api/v1/profiles/patient/{patients[i % len(patients)]}")
                    stats.add(r.status_code, time.perf_counter() - t)
        except httpx.TransportError:
            stats.down()
            time.sleep(0.3)


def patients_of(url: str) -> list[str]:
    from sqlalchemy import create_engine, text

    from centinela.db import normalize_url

    eng = create_engine(normalize_url(url))
    with eng.connect() as c:
        rows = [r[0] for r in c.execute(text(
            "SELECT DISTINCT patient_id FROM movements WHERE patient_id IS NOT NULL LIMIT 50"))]
    eng.dispose()
    return rows


def stored_codes(url: str, codes: list[str]) -> int:
    from sqlalchemy import create_engine, text

    from centinela.db import normalize_url
    from centinela.public.codes import code_hash

    hashes = [code_hash(c, key=SECRET) for c in codes]
    eng = create_engine(normalize_url(url))
    found = 0
    with eng.connect() as c:
        for i in range(0, len(hashes), 500):
            chunk = hashes[i:i + 500]
            marks = ", ".join(f":h{j}" for j in range(len(chunk)))
            found += c.execute(text(f"SELECT count(*) FROM public_reports WHERE code_hash IN "  # noqa: S608
                                    f"({marks})"), {f"h{j}": h for j, h in enumerate(chunk)}).scalar()
    eng.dispose()
    return found


def load_phase(env: Env, server: Server, clients: int, seconds: float, movements_dir: Path,
               patients: list[str]) -> dict:
    stats = Stats()
    stop = threading.Event()
    n_an = max(1, clients // 8)
    n_rep = max(1, (clients - n_an) // 2)
    n_ask = max(1, clients - n_an - n_rep)
    threads = ([threading.Thread(target=reporter, args=(server.base, stop, stats, k))
                for k in range(n_rep)]
               + [threading.Thread(target=asker, args=(server.base, stop, stats, k))
                  for k in range(n_ask)]
               + [threading.Thread(target=analyst, args=(server.base, stop, stats, patients))
                  for _ in range(n_an)])
    for t in threads:
        t.start()
    # An import and a detection run at the same time as the load.
    side = [env.popen("import", str(movements_dir), "--json"), env.popen("detect", "--json")]
    time.sleep(seconds * 0.4)
    server.kill9()
    killed_at = time.monotonic()
    time.sleep(1.0)
    server.start()
    restart_s = time.monotonic() - killed_at
    time.sleep(seconds * 0.6)  # the same load again on the restarted server
    stop.set()
    for t in threads:
        t.join(timeout=120)
    side_rc = [p.wait(timeout=600) for p in side]
    five = sum(n for s, n in stats.status.items() if s >= 500)
    four = sum(n for s, n in stats.status.items() if 400 <= s < 500)
    ok = sum(n for s, n in stats.status.items() if s < 400)
    stored = stored_codes(env.url, stats.codes)
    return {"clients": clients, "sent": stats.sent, "ok": ok, "4xx": four, "5xx": five,
            "refused_while_down": stats.refused, "accepted_reports": len(stats.codes),
            "stored_reports": stored, "lost": len(stats.codes) - stored,
            "p50_ms": round(pct(stats.latency, 0.5), 1), "p95_ms": round(pct(stats.latency, 0.95), 1),
            "restart_s": round(restart_s, 1), "side_rc": side_rc,
            "statuses": dict(sorted(stats.status.items()))}


def killed_import(env: Env, movements_dir: Path) -> dict:
    proc = env.popen("import", str(movements_dir), "--json")
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = env.cli("import", str(movements_dir), "--json")
    report = json.loads(rerun.stdout)
    files = report["files"]
    read = sum(f["read"] for f in files)
    acc = sum(f["accepted"] + f.get("updated", 0) for f in files)
    dup = sum(f["duplicates"] for f in files)
    rej = sum(f["rejected"] for f in files)
    conf = sum(f.get("conflicts", 0) for f in files)
    return {"rerun_rc": rerun.returncode, "read": read, "accepted": acc, "duplicates": dup,
            "rejected": rej, "conflicts": conf, "consistent": conf == 0 and acc + dup + rej == read}


def tamper_checks(env: Env, is_pg: bool, workdir: Path) -> dict:
    """Edited, truncated and rewritten copies must fail ``centinela audit verify``."""
    from sqlalchemy import create_engine, text

    from centinela.audit import _digest
    from centinela.db import normalize_url

    def edit(c, mid):
        c.execute(text("UPDATE audit_log SET reason = 'cambiado' WHERE id = :i"), {"i": mid})

    def truncate(c, mid):
        c.execute(text("DELETE FROM audit_log WHERE id > :i"), {"i": mid})
        c.execute(text("UPDATE audit_head SET last_id = :i, last_hash = (SELECT entry_hash FROM "
                       "audit_log WHERE id = :i)"), {"i": mid})

    def rewrite(c, mid):
        rows = c.execute(text("SELECT id, at, actor, action, subject, reason, details, prev_hash, "
                              "entry_hash FROM audit_log ORDER BY id")).all()
        prev = None
        for r in rows:
            if r.id < mid:
                prev = r.entry_hash
                continue
            reason = "reescrito" if r.id == mid else r.reason
            details = r.details if isinstance(r.details, dict) else json.loads(r.details or "{}")
            at = r.at if not isinstance(r.at, str) else __import__("datetime").datetime.fromisoformat(r.at)
            h = _digest(prev, at, r.actor, r.action, r.subject, reason, details)
            c.execute(text("UPDATE audit_log SET reason = :r, prev_hash = :p, entry_hash = :h "
                           "WHERE id = :i"), {"r": reason, "p": prev, "h": h, "i": r.id})
            prev = h
        c.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})

    out = {}
    for name, fn in (("edited", edit), ("truncated", truncate), ("rewritten", rewrite)):
        if is_pg:
            url = env.url
        else:
            src = Path(env.url.removeprefix("sqlite:///"))
            copy = workdir / f"tampered-{name}.db"
            shutil.copy(src, copy)
            url = f"sqlite:///{copy}"
        eng = create_engine(normalize_url(url))
        with eng.begin() as c:
            n = c.execute(text("SELECT count(*) FROM audit_log")).scalar() or 0
            mid = c.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET :o"),
                            {"o": n // 2}).scalar()
            if mid is None:
                raise RuntimeError("the audit log is empty: nothing to tamper with")
            if is_pg:
                c.execute(text("CREATE TEMP TABLE keep_log AS SELECT * FROM audit_log"))
                c.execute(text("CREATE TEMP TABLE keep_head AS SELECT * FROM audit_head"))
                c.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            fn(c, mid)
        res = env.cli("audit", "verify", CENTINELA_DATABASE_URL=url)
        out[name] = {"rc": res.returncode, "says": res.stdout.strip()[:160]}
        if is_pg:  # put the genuine log back for the next tampering
            with eng.begin() as c:
                c.execute(text("DELETE FROM audit_log"))
                c.execute(text("INSERT INTO audit_log SELECT * FROM keep_log"))
                c.execute(text("DELETE FROM audit_head"))
                c.execute(text("INSERT INTO audit_head SELECT * FROM keep_head"))
                c.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        eng.dispose()
    return out


def run_database(kind: str, url: str, workdir: Path, clients_list: list[int], seconds: float,
                 gen: dict[str, Path]) -> dict:
    data_dir = workdir / f"data-{kind}"
    data_dir.mkdir()
    env = Env(url, data_dir)
    for args in (("db", "upgrade"), ("import", str(gen["registry"])),
                 ("import", str(gen["base"])),
                 ("users", "create", "analista", "--role", "national_analyst")):
        res = env.cli(*args)
        if res.returncode != 0:
            raise RuntimeError(f"{args}: {res.stdout[-500:]} {res.stderr[-500:]}")
    patients = patients_of(url)
    server = Server(env)
    server.start()
    # Same-process baseline: one client, /healthz, before any load.
    base_lat = []
    with httpx.Client(base_url=server.base, timeout=10) as http:
        for _ in range(50):
            t = time.perf_counter()
            http.get("/healthz")
            base_lat.append(time.perf_counter() - t)
    result = {"database": kind, "baseline_p50_ms": round(pct(base_lat, 0.5), 2), "phases": []}
    try:
        for i, clients in enumerate(clients_list):
            phase = load_phase(env, server, clients, seconds, gen[f"load{i}"], patients)
            print(f"  {kind} {clients} clients: {phase}", flush=True)
            result["phases"].append(phase)
        result["killed_import"] = killed_import(env, gen["kill"])
        print(f"  {kind} killed import: {result['killed_import']}", flush=True)
    finally:
        server.stop()
    cp = env.cli("audit", "checkpoint")
    ver = env.cli("audit", "verify")
    result["audit"] = {"checkpoint_rc": cp.returncode, "verify_rc": ver.returncode,
                       "says": ver.stdout.strip()}
    result["tampered"] = tamper_checks(env, kind == "postgresql", workdir)
    print(f"  {kind} audit: {result['audit']} tampered: {result['tampered']}", flush=True)
    return result


def generate(workdir: Path, n_loads: int) -> dict[str, Path]:
    """One synthetic world; its movements split in disjoint slices (base, one per load phase,
    one for the killed import) so every import adds new events to the same registry."""
    src = workdir / "world"
    subprocess.run([sys.executable, "-c", "from centinela.cli import main; main()", "generate",
                    str(src), "--seed", "1", "--scale", "0.02", "--days", "150"], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src"),
                                             "CENTINELA_DATA_DIR": str(workdir)})
    lines = (src / "movements.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    names = ["base", *[f"load{i}" for i in range(n_loads)], "kill"]
    size = len(rows) // len(names)
    out: dict[str, Path] = {}
    reg = workdir / "registry"
    reg.mkdir()
    for f in ("establishments.csv", "professionals.csv", "products.csv"):
        shutil.copy(src / f, reg / f)
    out["registry"] = reg
    for k, name in enumerate(names):
        d = workdir / name
        d.mkdir()
        for f in ("establishments.csv", "professionals.csv", "products.csv"):
            shutil.copy(src / f, d / f)
        chunk = rows[k * size:(k + 1) * size] if k < len(names) - 1 else rows[k * size:]
        (d / "movements.csv").write_text(header + "".join(chunk), encoding="utf-8")
        out[name] = d
    return out


def pg_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure: skip PostgreSQL
        return False


def write_readme(results: list[dict], seconds: float) -> None:
    lines = ["## Reliability under load and faults (issue 11)", "",
             "`python3 benchmarks/load_faults.py --write-readme` (loopback only; synthetic data "
             "from `centinela generate --scale 0.02`). Per database and client count: "
             f"{seconds:.0f} s of concurrent citizen reports (API), assistant questions and "
             "analysts reading patient profiles (audited) against `centinela serve`, while an "
             "import and `centinela detect` run; the server is killed with SIGKILL at 40 % and "
             "started again and loaded for the remaining 60 %. *Lost* = answered 201 with a follow-up code but not in the "
             "database. Latency of answered requests; baseline = p50 of `/healthz`, one "
             "client, same process, before the load.", "",
             "| database | clients | sent | 2xx/3xx | 4xx | 5xx | refused while down | accepted "
             "reports | stored | lost | p50 ms | p95 ms | p95 / baseline | restart s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for p in r["phases"]:
            lines.append(f"| {r['database']} | {p['clients']} | {p['sent']} | {p['ok']} | "
                         f"{p['4xx']} | {p['5xx']} | {p['refused_while_down']} | "
                         f"{p['accepted_reports']} | {p['stored_reports']} | {p['lost']} | "
                         f"{p['p50_ms']} | {p['p95_ms']} | "
                         f"{p['p95_ms'] / max(r['baseline_p50_ms'], 0.01):.0f}x | "
                         f"{p['restart_s']} |")
    lines += ["", "| database | import killed mid-way, re-run | audit verify after the run | "
              "edited copy | truncated copy | rewritten copy |", "|---|---|---|---|---|---|"]
    for r in results:
        k, t = r["killed_import"], r["tampered"]
        lines.append(
            f"| {r['database']} | read {k['read']}, accepted {k['accepted']}, duplicates "
            f"{k['duplicates']}, rejected {k['rejected']}, conflicts {k['conflicts']} "
            f"({'consistent' if k['consistent'] else 'INCONSISTENT'}) | exit "
            f"{r['audit']['verify_rc']}: {r['audit']['says']} | "
            + " | ".join(f"exit {t[n]['rc']}: {t[n]['says']}" for n in ("edited", "truncated",
                                                                          "rewritten")) + " |")
    lines += ["", "4xx are requests the app refused on purpose (none expected here); *refused "
              "while down* are connections refused during the kill -9 restart (the client got "
              "no answer, so nothing was acknowledged); *restart s* is kill -9 to the first "
              "`/healthz` answer of the new server. Figures are from a shared 2-core machine "
              "(other jobs running): the load generator, the server, the import and detection "
              "compete for the same two cores, which dominates latency and restart time. On "
              "SQLite an import holds the single write lock for its whole (atomic) transaction: "
              "reports wait for it (busy timeout 30 s), hence p95 near 30 s at 32 clients; no "
              "request failed, but large imports belong on PostgreSQL. The killed import's "
              "re-run shows no conflicts and accepted + duplicates = read (its duplicates are "
              "re-sent records inside the generated file itself, identical on both databases): "
              "the killed run left nothing behind.", ""]
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    head = "## Reliability under load and faults (issue 11)"
    if head in text:
        before, rest = text.split(head, 1)
        after = rest.split("\n## ", 1)
        text = before + "\n".join(lines) + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    README.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="8,32", help="Comma-separated client counts.")
    ap.add_argument("--seconds", type=float, default=20.0, help="Load seconds per phase.")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    clients = [int(c) for c in args.clients.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="centinela-load-"))
    results = []
    schema = f"loadfaults_{os.getpid()}"
    try:
        gen = generate(workdir, len(clients))
        dbs = [("sqlite", f"sqlite:///{workdir / 'load.db'}")]
        if not args.no_postgres and pg_reachable():
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                c.execute(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in PG_URL else "?"
            dbs.append(("postgresql", f"{PG_URL}{sep}options=-csearch_path%3D{schema}"))
        for kind, url in dbs:
            print(f"== {kind}", flush=True)
            results.append(run_database(kind, url, workdir, clients, args.seconds, gen))
    finally:
        if any(k == "postgresql" for k, _ in locals().get("dbs", [])):
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=1))
    bad = [p for r in results for p in r["phases"] if p["lost"] or p["5xx"]]
    bad += [r for r in results if r["audit"]["verify_rc"] != 0
            or any(t["rc"] == 0 for t in r["tampered"].values())
            or not r["killed_import"]["consistent"]]
    if args.write_readme:
        write_readme(results, args.seconds)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
