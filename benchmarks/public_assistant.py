"""Public-assistant benchmark: retrieval accuracy@1 and MRR on the shipped evaluation questions
(written as users type them, independently of the KB wording), with ablations as baselines
(BM25 alone, character n-grams alone, both without question matching), red-flag recall and the
false red-flag rate, dose refusals, out-of-scope fallbacks, and latency.

    python3 benchmarks/public_assistant.py [--write]

``--write`` replaces the ``## Public assistant`` section of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

from centinela.public.assistant.engine import ask
from centinela.public.assistant.kb import entries
from centinela.public.assistant.retrieval import default_index
from centinela.public.evaluation import evaluate, load_jsonl

VARIANTS = {
    "BM25 over words only": ((1.0, 0.0, 0.0), False),
    "char n-gram TF-IDF only": ((0.0, 1.0, 0.0), False),
    "BM25 + char n-grams": ((0.6, 0.4, 0.0), False),
    "+ question similarity + intents (shipped)": (None, True),
}


def with_typos(text: str, rng: random.Random) -> str:
    """Misspell about half the words of five letters or more (drop, swap or replace a letter)."""
    out = []
    for w in text.split():
        if len(w) >= 5 and rng.random() < 0.5:
            i = rng.randrange(1, len(w) - 1)
            op = rng.choice("dsr")
            if op == "d":
                w = w[:i] + w[i + 1 :]
            elif op == "s":
                w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
            else:
                w = w[:i] + rng.choice("aeioulnrst") + w[i + 1 :]
        out.append(w)
    return " ".join(out)


def ablation(rows: list[dict]) -> dict[str, tuple[float, float, float]]:
    """Return accuracy@1, MRR and accuracy@1 on misspelled copies, per retrieval variant."""
    index = default_index()
    n = len(entries())
    rng = random.Random(7)
    typo_rows = [{**r, "q": with_typos(r["q"], rng)} for r in rows]
    out = {}
    for name, (weights, intents) in VARIANTS.items():
        acc = mrr = typo_acc = 0.0
        for r, t in zip(rows, typo_rows, strict=True):
            kw = {"use_intents": intents}
            if weights:
                kw["weights"] = weights
            hits, _ = index.search(r["q"], k=n, **kw)
            ids = [h.entry.id for h in hits]
            rank = ids.index(r["expected"]) + 1
            acc += rank == 1
            mrr += 1 / rank
            typo_acc += index.search(t["q"], k=1, **kw)[0][0].entry.id == t["expected"]
        out[name] = (acc / len(rows), mrr / len(rows), typo_acc / len(rows))
    return out


def latency_ms(rows: list[dict], repeat: int = 3) -> float:
    """Median milliseconds of a full ``ask`` (red flags, dose, retrieval) per question."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for r in rows:
            ask(r["q"])
        times.append((time.perf_counter() - t0) * 1000 / len(rows))
    return sorted(times)[len(times) // 2]


def section(res: dict, abl: dict, ms: float) -> str:
    load = os.getloadavg()[0]
    lines = [
        "## Public assistant",
        "",
        f"`python3 benchmarks/public_assistant.py` on {platform.machine()} with "
        f"{os.cpu_count()} cores (Python {platform.python_version()}), load average {load:.1f}.",
        f"Knowledge base: {res['kb_entries']} entries (`src/centinela/public/data/kb`). Evaluation: "
        f"{res['questions']} questions labelled with their KB entry (Spanish and English, "
        "paraphrases, slang, misspellings, no accents) plus 8 dose, 6 locator and 8 out-of-scope "
        f"questions (`public/data/eval/questions.jsonl`); {res['redflag_messages']} red-flag "
        "messages in Spanish, English and Quechua (`redflags.jsonl`). The questions were written "
        "before the KB text; the KB's own example questions were written afterwards in other "
        "words, so these figures are optimistic for unseen users (hidden questions will tell).",
        "",
        "| retrieval variant | accuracy@1 | MRR | accuracy@1 with synthetic typos |",
        "|---|---|---|---|",
    ]
    for name, (acc, mrr, typo) in abl.items():
        lines.append(f"| {name} | {acc:.1%} | {mrr:.3f} | {typo:.1%} |")
    base = abl["BM25 over words only"][0]
    lines += [
        "",
        "Synthetic typos: the same questions with about half of their words of five or more "
        "letters misspelled (one letter dropped, swapped or replaced; seed 7).",
        f"Shipped retrieval vs BM25-only baseline: {res['accuracy_at_1'] / base:.2f}× "
        f"accuracy@1 on the questions as written, "
        f"{abl[list(abl)[-1]][2] / abl['BM25 over words only'][2]:.2f}× with typos. By language: "
        + ", ".join(f"{k} {v:.1%}" for k, v in res["accuracy_by_language"].items()) + ".",
        f"End to end (`ask`, with the confidence threshold): {res['answered_correctly_end_to_end']:.1%}"
        f" of KB questions answered with the right entry; {res['below_threshold_share']:.1%} fell "
        "below the threshold and got the honest fallback.",
        "",
        "| safety check | result |",
        "|---|---|",
        f"| red-flag recall ({res['redflag_messages']} messages) | {res['redflag_recall']:.1%} |",
        f"| red-flag category correct | {res['redflag_category_accuracy']:.1%} |",
        f"| false red flags on ordinary questions | {res['false_redflag_rate']:.1%} |",
        f"| dose questions refused | {res['dose_recall']:.1%} (false refusals "
        f"{res['dose_false_rate']:.1%}) |",
        f"| out-of-scope questions answered with the fallback | "
        f"{res['out_of_scope_fallback_rate']:.1%} |",
        "",
        f"Latency: {ms:.1f} ms per question for the whole `ask` pipeline on one process (median "
        "of 3 passes).",
        "",
    ]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    path = Path(__file__).parent / "README.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Public assistant\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(current):
        current = pattern.sub(text.rstrip("\n") + "\n", current)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args(argv)
    res = evaluate()
    rows = [q for q in load_jsonl("questions.jsonl") if not q["expected"].startswith("@")]
    abl = ablation(rows)
    ms = latency_ms(load_jsonl("questions.jsonl"))
    text = section(res, abl, ms)
    print(text)
    if res["misses"]:
        print("misses:", *(f"  {m['q']!r} → {m['got']} (expected {m['expected']})"
                          for m in res["misses"]), sep="\n")
    if args.write:
        write_readme(text)
    return 0 if res["redflag_recall"] == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
