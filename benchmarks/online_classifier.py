"""Online-market classifier: quality next to a keyword-only baseline, and throughput.

Run: ``python3 benchmarks/online_classifier.py [--posts N] [--no-write]``. Quality is measured on
(1) the held-out split of the synthetic corpus (templates and phrasings never seen in training)
and (2) 60 hand-written posts (``tests/fixtures/online/handwritten_eval.jsonl``). Throughput
classifies N posts through the full path (lexicon, TF-IDF, linear model, calibration, language
id) in batches of 500, next to the keyword baseline in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path

from centinela.online import model_store
from centinela.online.classifier import evaluate
from centinela.online.classify import classify
from centinela.online.lexicon import load_lexicon

ROOT = Path(__file__).resolve().parents[1]
HANDWRITTEN = ROOT / "tests" / "fixtures" / "online" / "handwritten_eval.jsonl"
README = ROOT / "benchmarks" / "README.md"


def _row(name: str, m: dict) -> str:
    return (f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['accuracy']:.3f} | {m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} |")


def quality() -> tuple[dict, dict]:
    model = model_store.get_model().model
    test = [r for r in model_store.corpus_rows() if r["split"] == "test"]
    hand = [json.loads(x) for x in HANDWRITTEN.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {"synthetic": evaluate(model, test), "handwritten": evaluate(model, hand)}, {
        "synthetic": len(test), "handwritten": len(hand)}


def throughput(n: int) -> dict:
    rows = model_store.corpus_rows()
    texts = [rows[i % len(rows)]["text"] for i in range(n)]
    classify(texts[:50])  # load the model and langid
    # cold: distinct posts, per-word caches emptied first (new vocabulary on every post)
    model = model_store.get_model().model
    model.__dict__.pop("_fast_tfidf", None)
    distinct = [r["text"] for r in rows[:min(n, len(rows))]]
    t0 = time.perf_counter()
    for i in range(0, len(distinct), 500):
        classify(distinct[i:i + 500], language=False)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        classify(texts[i:i + 500], language=False)
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        classify(texts[i:i + 500])
    full_s = time.perf_counter() - t0
    lex = load_lexicon()
    t0 = time.perf_counter()
    for t in texts:
        lex.match(t).keyword_offer()
    base_s = time.perf_counter() - t0
    return {"n": n, "model_per_s": n / model_s, "full_per_s": n / full_s,
            "cold_n": len(distinct), "cold_per_s": len(distinct) / cold_s,
            "baseline_per_s": n / base_s, "load": os.getloadavg()[0]}


def report(q: dict, sizes: dict, tp: dict) -> str:
    loaded = model_store.get_model()
    lines = [
        "## Online monitoring",
        "",
        f"`python3 benchmarks/online_classifier.py` on {platform.machine()} with {os.cpu_count()} cores "
        f"(Python {platform.python_version()}); model `{loaded.source}` "
        f"({loaded.manifest.get('artefact_bytes', 0) // 1024} KiB, scikit-learn "
        f"{loaded.manifest.get('sklearn_version', '?')}). Offer = an offer to sell fentanyl or another "
        "opioid; threshold 0.5 on the calibrated probability. Baseline = keyword only: an opioid "
        "lexicon term together with a sale or payment term. Columns tp/fp/fn/tn.",
        "",
        f"**Held-out synthetic set** ({sizes['synthetic']} posts from templates and phrasings the "
        "model never saw; the corpus is fully synthetic, so this measures generalization inside "
        "that synthetic world, not on real traffic):",
        "",
        "| method | precision | recall | F1 | accuracy | tp/fp/fn/tn |",
        "|---|---|---|---|---|---|",
        _row("model (lexicon + char/word TF-IDF + logistic regression)", q["synthetic"].model),
        _row("keyword baseline", q["synthetic"].keyword_baseline),
        "",
        f"**Hand-written set** ({sizes['handwritten']} varied posts written by hand, not from the "
        "templates: ampoule resale, US slang, coded offers, seizure news, harm reduction, pharmacy "
        "ads, other drugs, buy requests; written before the model was trained, but its errors were "
        "looked at once during development — treat it as a sanity check, not a clean test):",
        "",
        "| method | precision | recall | F1 | accuracy | tp/fp/fn/tn |",
        "|---|---|---|---|---|---|",
        _row("model", q["handwritten"].model),
        _row("keyword baseline", q["handwritten"].keyword_baseline),
        "",
        "Hand-written posts the model gets wrong: "
        + ("; ".join(f"“{e['text'][:70]}…” (label {e['label']}, p={e['probability']})"
                     for e in q["handwritten"].errors) or "none") + ".",
        "",
        f"**Throughput** ({tp['n']} corpus posts, batches of 500, one process): "
        f"{tp['model_per_s']:,.0f} posts/s for the offer decision as ingestion runs it (lexicon, "
        f"TF-IDF, model, calibration; language id only for offers) — "
        f"{tp['model_per_s'] / 2000:.2f}× the 2,000/s target ({tp['cold_per_s']:,.0f} posts/s on the "
        f"first {tp['cold_n']:,} distinct posts with the per-word caches empty); "
        f"{tp['full_per_s']:,.0f} posts/s with "
        f"language id on every post (the `classify` API); the keyword baseline alone runs at "
        f"{tp['baseline_per_s']:,.0f} posts/s (model/baseline = "
        f"{tp['model_per_s'] / tp['baseline_per_s']:.2f}; the baseline shares the lexicon scan, "
        "which got faster too). Explanations and entity extraction run "
        f"only for posts kept as offers. Load average at the end of the run: {tp['load']:.1f} on 2 "
        "cores shared with other work, so an idle machine is faster.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    body = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Online monitoring\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(body):
        body = pattern.sub(lambda _: text, body)
    else:
        body = body.rstrip("\n") + "\n\n" + text
    README.write_text(body, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10000, help="posts for the throughput run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    q, sizes = quality()
    tp = throughput(args.posts)
    text = report(q, sizes, tp)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
