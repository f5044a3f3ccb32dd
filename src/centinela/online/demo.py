"""A synthetic export of social-media posts for the demo (``centinela demo``, step 8).

Posts come from the shipped synthetic corpus (``online/data/corpus.jsonl``, held-out split:
text the model did not train on), dated over the last 30 days, with a few synthetic sellers
who repeat their phone number or handle across posts and platforms, so that the leads page
shows posts grouped by shared identifier as it would on real exports. Everything here is
synthetic; nothing is fetched.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from sqlalchemy.orm import Session

from centinela.online import model_store
from centinela.online.service import IngestReport, ingest_file

PLATFORMS = ("facebook", "instagram", "tiktok", "x", "marketplace")
# (display name, phone, handle): synthetic sellers; 9xx numbers of the Peruvian mobile format
SELLERS = (
    ("Farma Delivery Norte", "987 410 233", "@farmadeliverynorte"),
    ("Meds Lima Sur", "912 877 045", "@medslimasur"),
    ("Ventas Hospitalarias", "934 200 718", "@ventashosp_pe"),
    ("El Químico", "956 331 902", "@elquimico_pe"),
    ("Botica Express 24h", "921 650 477", "@boticaexpress24"),
    ("Parches y Más", "948 013 566", "@parchesymas"),
)
FILE = "posts.csv"


def demo_rows(now: dt.datetime, seed: int = 1, offers: int = 48,
              others: int = 240) -> list[dict[str, str]]:
    """The rows of the demo export: ``offers`` opioid offers spread over the sellers and
    ``others`` negatives (news, harm reduction, other drugs, pharmacies), newest last."""
    rng = random.Random(seed)
    rows = [r for r in model_store.corpus_rows() if r.get("split") == "test"]
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    picked = [(r, True) for r in rng.sample(pos, min(offers, len(pos)))]
    picked += [(r, False) for r in rng.sample(neg, min(others, len(neg)))]
    rng.shuffle(picked)
    out = []
    for i, (row, offer) in enumerate(picked):
        text = row["text"]
        if offer:
            name, phone, handle = SELLERS[i % len(SELLERS)]
            # a seller writes the same number or handle again and again: that links the posts
            text = f"{text} {rng.choice(('wsp', 'cel', 'escríbeme al', 'pedidos'))} {phone}" \
                if rng.random() < 0.6 else f"{text} {handle}"
            author = name if rng.random() < 0.7 else handle
        else:
            author = f"usuario{rng.randrange(10_000, 99_999)}"
        when = now - dt.timedelta(minutes=rng.randrange(30 * 24 * 60))
        platform = rng.choice(PLATFORMS)
        out.append({"platform": platform, "author": author, "text": text,
                    "time": when.replace(microsecond=0).isoformat() + "+00:00",
                    "url": f"https://{platform}.example/centinela-demo/{seed}/{i}"})
    out.sort(key=lambda r: r["time"])
    return out


def write_demo_export(folder: Path, now: dt.datetime, seed: int = 1) -> Path:
    """Write ``folder/posts.csv`` (once: a second demo reuses it, so re-ingestion is a no-op)."""
    path = folder / FILE
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        rows = demo_rows(now, seed)
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["platform", "author", "text", "time", "url"])
            w.writeheader()
            w.writerows(rows)
    return path


def seed_demo(session: Session, folder: Path, now: dt.datetime, seed: int = 1) -> IngestReport:
    """Write the demo export (if missing) and ingest it as an analyst would."""
    return ingest_file(session, write_demo_export(folder, now, seed), now, fmt="posts",
                       actor="demo", display_name="demo: " + FILE)
