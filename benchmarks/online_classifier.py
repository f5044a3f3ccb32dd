"""Online-market classifier: quality next to a keyword-only baseline, and throughput.

Run: ``python3 benchmarks/online_classifier.py [--posts N] [--no-write]``. Quality is measured,
each set in its source context, on (1) the held-out split of the synthetic corpus (templates and
phrasings never seen in training), (2) 60 hand-written posts, (3) 70 hand-written market titles,
(4) real labelled darknet-market listings and titles (Agora 2014, Dream Market 2016-17; sources,
licences and the labelling guideline in docs/online.md) and (5) real buyer reviews (all
non-offers: false alarms only). Throughput classifies N posts through the full path (lexicon,
TF-IDF, linear model, calibration, source-aware rules, language id) in batches of 500, next to
the keyword baseline in the same process.
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
FIX = ROOT / "tests" / "fixtures" / "online"
HANDWRITTEN = FIX / "handwritten_eval.jsonl"
PERU = FIX / "peru_eval.jsonl"
KINDS = ("offer", "request", "none")
# (key, file, context, description)
SETS = [
    ("handwritten", HANDWRITTEN, "social", "hand-written posts"),
    ("market_titles", FIX / "market_titles_eval.jsonl", "market", "hand-written market titles"),
    ("agora_listings", FIX / "real" / "agora_listings_2014-01_02.jsonl", "market",
     "real Agora listings, Jan-Feb 2014 (title + shipping)"),
    ("agora_titles", FIX / "real" / "agora_titles_2014-03.jsonl", "market",
     "real Agora titles, Mar 2014"),
    ("dream_titles", FIX / "real" / "dream_titles_2016-2017.jsonl", "market",
     "real Dream Market titles, 2016-17"),
    ("agora_listings_social", FIX / "real" / "agora_listings_2014-01_02.jsonl", "social",
     "the same Agora listings read without their context (default social)"),
    ("agora_reviews", FIX / "real" / "agora_feedback_2014-01_02.jsonl", "social",
     "real Agora buyer reviews (no offers)"),
]


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
README = ROOT / "benchmarks" / "README.md"


def _row(name: str, m: dict) -> str:
    return (f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['accuracy']:.3f} | {m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} |")


def quality() -> tuple[dict, dict]:
    model = model_store.get_model().model
    test = [r for r in model_store.corpus_rows() if r["split"] == "test"]
    out, sizes = {"synthetic": evaluate(model, test, "social")}, {"synthetic": len(test)}
    for key, path, context, _ in SETS:
        rows = _rows(path)
        out[key], sizes[key] = evaluate(model, rows, context), len(rows)
    return out, sizes


def _expected_kind(row: dict) -> str:
    """The kind a row should get: a buy request is ``request`` only in the chat context."""
    if int(row["label"]):
        return "offer"
    return "request" if row["kind"] == "request" and row["context"] == "chat" else "none"


def peru(split: str) -> dict:
    """Per-kind precision/recall, offer P/R/F1 and substance hits on one split of the Peru set."""
    rows = [r for r in _rows(PERU) if r["split"] == split]
    got = classify([r["text"] for r in rows], language=False, context=[r["context"] for r in rows])
    want = [_expected_kind(r) for r in rows]
    out: dict = {"n": len(rows), "kinds": {}, "errors": [], "by_category": {}}
    for k in KINDS:
        tp = sum(w == k and g.kind == k for w, g in zip(want, got, strict=True))
        n_pred = sum(g.kind == k for g in got)
        n_true = want.count(k)
        out["kinds"][k] = {"precision": tp / n_pred if n_pred else 1.0,
                           "recall": tp / n_true if n_true else 1.0, "tp": tp,
                           "predicted": n_pred, "true": n_true}
    named = [(r, g) for r, g in zip(rows, got, strict=True) if r.get("substance") == "fentanyl"]
    # the registry's id of an analogue ("acetylfentanyl") names the fentanyl family too
    out["fentanyl_named"] = (sum(any("fentanyl" in s for s in g.substances) for _, g in named),
                             len(named))
    for r, w, g in zip(rows, want, got, strict=True):
        cat = out["by_category"].setdefault(r["category"], [0, 0])
        cat[0] += g.kind == w
        cat[1] += 1
        if g.kind != w:
            out["errors"].append({"id": r["id"], "category": r["category"], "want": w,
                                  "got": g.kind, "rule": g.rule, "text": r["text"]})
    out["correct"] = sum(c for c, _ in out["by_category"].values())
    return out


# Figures of the code before the 2026-12-06 fixes (same set, same script), kept for comparison.
PERU_BEFORE = ("Before the fixes of 2026-12-06 (same set and script): tune 96/112 kinds right "
               "(offer P 0.73 / R 0.97, request 0.83 / 0.71, none 0.95 / 0.82), held-out 47/56 "
               "(offer 0.65 / 1.00, request 1.00 / 1.00, none 1.00 / 0.74). Misses were warnings "
               "quoting the seller's ad (1 of 13 right), worried relatives without \"?\" (10 of 13), "
               "test strips, job ads and \"Fenty Beauty\" read as offers, a \"fenta\" offer left to "
               "the model, and Peruvian buy requests (\"alguien que tenga…\", \"oxi\"). The held-out "
               "totals were looked at after each of three revisions of the fixes (55, 54, 55 of 56), so "
               "they are not fully blind.")


def peru_lines(res: dict[str, dict]) -> list[str]:
    """Markdown rows of the Peru set, one per split."""
    lines = ["| split (n) | offer P / R | request P / R | none P / R | kind correct | "
             "fentanyl offers named fentanyl |", "|---|---|---|---|---|---|"]
    for split, r in res.items():
        k = r["kinds"]
        cells = [f"{k[x]['precision']:.2f} / {k[x]['recall']:.2f}" for x in KINDS]
        lines.append(f"| {split} ({r['n']}) | " + " | ".join(cells)
                     + f" | {r['correct']}/{r['n']} | {r['fentanyl_named'][0]}/{r['fentanyl_named'][1]} |")
    return lines


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
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, n, 500):
        classify(texts[i:i + 500], language=False)
    model_s, model_cpu = time.perf_counter() - t0, time.process_time() - c0
    listings = [r["text"] for r in _rows(SETS[2][1])]
    market = [listings[i % len(listings)] for i in range(n)]
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, n, 500):
        classify(market[i:i + 500], language=False, context="market")
    market_s, market_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        classify(texts[i:i + 500])
    full_s = time.perf_counter() - t0
    lex = load_lexicon()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in texts:
        lex.match(t).keyword_offer()
    base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"n": n, "model_per_s": n / model_s, "full_per_s": n / full_s,
            "market_per_s": n / market_s, "model_per_cpu_s": n / model_cpu,
            "market_per_cpu_s": n / market_cpu, "baseline_per_cpu_s": n / base_cpu,
            "cold_n": len(distinct), "cold_per_s": len(distinct) / cold_s,
            "baseline_per_s": n / base_s, "load": os.getloadavg()[0]}


def _one_line(text: str, n: int) -> str:
    return " / ".join(text.split("\n"))[:n]


def _prf(m: dict) -> str:
    return f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f}"


def _set_row(key: str, desc: str, context: str, n: int, ev) -> str:
    m = ev.model
    if m["tp"] + m["fn"] == 0:  # no offers in the set: only false alarms are meaningful
        return (f"| {desc} ({context}, {n}) | false alarms {m['fp']}/{n} | false alarms "
                f"{ev.model_only['fp']}/{n} | false alarms {ev.keyword_baseline['fp']}/{n} | "
                f"{m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} | {ev.decided_by.get('lexicon', 0)} |")
    return (f"| {desc} ({context}, {n}) | {_prf(m)} | {_prf(ev.model_only)} | "
            f"{_prf(ev.keyword_baseline)} | {m['tp']}/{m['fp']}/{m['fn']}/{m['tn']} | "
            f"{ev.decided_by.get('lexicon', 0)} |")


def peru_paragraph(res: dict[str, dict]) -> list[str]:
    """The Peru set's paragraph of the report."""
    errors = "; ".join(f"“{e['text'][:80]}…” ({e['want']} read as {e['got']})"
                       for split in res for e in res[split]["errors"]) or "none"
    return [
        "**Peruvian hand-written set** (`tests/fixtures/online/peru_eval.jsonl`: 168 chats, posts, "
        "ads and listings written on 2026-12-06 before the classifier's code was read; each "
        "decided in its own context; kind = offer, request (chat only) or none; `--peru` prints "
        "it alone). `tune` is the part looked at while fixing, `heldout` every third text of "
        "each category:",
        "",
        *peru_lines(res),
        "",
        PERU_BEFORE + f" Errors now: {errors}.",
        "",
    ]


def report(q: dict, sizes: dict, tp: dict, peru_res: dict[str, dict]) -> str:
    loaded = model_store.get_model()
    lines = [
        "## Online monitoring (issue 17: source-aware decisions, real listings)",
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
        _row("decision (lexicon rules + model, social context)", q["synthetic"].model),
        _row("model alone (char/word TF-IDF + lexicon features + logistic regression)",
             q["synthetic"].model_only),
        _row("keyword baseline", q["synthetic"].keyword_baseline),
        "",
        "**Per evaluation set**, each decided in its source context (decision = lexicon rules + "
        "model, `online/decide.py`; model alone = its calibrated probability ≥ 0.5 without the "
        "rules; baseline = keyword rule). Real sets were labelled by the written guideline in "
        "`docs/online.md`; the Agora listings were the development set for the rules and the "
        "lexicon, the other sets were looked at as described there:",
        "",
        "| set (context, n) | decision P / R / F1 | model alone P / R / F1 | keyword baseline P / R / F1 | decision tp/fp/fn/tn | decided by rules |",
        "|---|---|---|---|---|---|",
        *[_set_row(key, desc, context, sizes[key], q[key]) for key, _, context, desc in SETS],
        "",
        "Hand-written posts the decision gets wrong: "
        + ("; ".join(f"“{_one_line(e['text'], 70)}…” (label {e['label']}, {e['decided_by']})"
                     for e in q["handwritten"].errors) or "none") + ". Real-set errors: "
        + ("; ".join(f"“{_one_line(e['text'], 60)}…” (label {e['label']}, {e['decided_by']})"
                     for key in ("agora_listings", "agora_titles", "dream_titles", "agora_reviews")
                     for e in q[key].errors) or "none") + ".",
        "",
        "First runs, before any change prompted by the set itself (docs/online.md § How the sets "
        "were used): Agora March titles precision 0.953, recall 0.992, F1 0.972; Dream titles "
        "6/6 offers, 0 false alarms. Before issue 17 (no rules, default context) the model scored "
        "F1 0.89 against 0.93 for the keyword rule on a checker's 400 real listings, and found 11 "
        "of 28 opioid offers among English market titles.",
        "",
        *peru_paragraph(peru_res),
        f"**Throughput** ({tp['n']} corpus posts, batches of 500, one process): "
        f"{tp['model_per_s']:,.0f} posts/s for the decision with context as ingestion runs it "
        f"(lexicon, TF-IDF, model, calibration, source-aware rules; language id only for offers; "
        f"social context) — {tp['model_per_s'] / 2000:.2f}× the 2,000/s target — and "
        f"{tp['market_per_s']:,.0f} posts/s on real market listings in the market context "
        f"({tp['market_per_s'] / 2000:.2f}×); {tp['cold_per_s']:,.0f} posts/s on the first "
        f"{tp['cold_n']:,} distinct posts with the per-word caches empty; "
        f"{tp['full_per_s']:,.0f} posts/s with language id on every post (the `classify` API). "
        f"The keyword baseline alone runs at {tp['baseline_per_s']:,.0f} posts/s in the same "
        f"process (decision/baseline = {tp['model_per_s'] / tp['baseline_per_s']:.2f}). "
        f"Per second of CPU time of this process (wall time is shared with other work on this "
        f"machine): {tp['model_per_cpu_s']:,.0f} posts/s for the decision with context "
        f"({tp['model_per_cpu_s'] / 2000:.2f}× the target), {tp['market_per_cpu_s']:,.0f} on "
        f"market listings, {tp['baseline_per_cpu_s']:,.0f} for the keyword baseline. "
        "Explanations and entity extraction run only for posts kept as offers. Load average at "
        f"the end of the run: {tp['load']:.1f} on 2 "
        "cores shared with other work, so an idle machine is faster. Before issue 17 the same path "
        "ran at 9,329 posts/s with the machine nearly idle (load 1.2; decision/baseline 0.36).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    body = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Online monitoring[^\n]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(body):
        body = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", body)
    else:
        body = body.rstrip("\n") + "\n\n" + text
    README.write_text(body, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10000, help="posts for the throughput run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--peru", action="store_true",
                        help="only the Peru set: per-kind figures, and the tune split's errors")
    args = parser.parse_args()
    res = {split: peru(split) for split in ("tune", "heldout")}
    if args.peru:
        print("\n".join(peru_lines(res)))
        for split, r in res.items():
            print(split, "by category:", {c: f"{a}/{b}" for c, (a, b) in sorted(r["by_category"].items())})
        for e in res["tune"]["errors"]:  # held-out errors are not shown: only their totals
            print(f"{e['id']} {e['category']}: want {e['want']} got {e['got']} [{e['rule']}] {e['text']}")
        return
    q, sizes = quality()
    tp = throughput(args.posts)
    text = report(q, sizes, tp, res)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
