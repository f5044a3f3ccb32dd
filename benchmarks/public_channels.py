"""Public channels benchmark (issue 12): the assistant on a second evaluation set written apart
from the KB examples (accuracy@1, MRR, end to end with legal/dose/fallback routing), next to the
original set; crisis detection on its separate evaluation set (recall, false flags, lexicon vs
lexicon + model); the redaction sentence set.

    python3 benchmarks/public_channels.py [--write]

``--write`` replaces the ``## Public channels (issue 12)`` section of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

from centinela.public.assistant.engine import ask
from centinela.public.assistant.kb import entries
from centinela.public.assistant.redflags import detect, detect_lexicon
from centinela.public.assistant.retrieval import default_index
from centinela.public.evaluation import load_jsonl
from centinela.public.redaction import LABELS, redact_text

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Public channels (issue 12)"
ROUTES = {"@legal": "legal", "@dose": "dose_refusal", "@fallback": "fallback"}


def retrieval(rows: list[dict], weights=None, use_intents: bool = True) -> tuple[float, float]:
    """accuracy@1 and MRR of the KB-labelled rows."""
    index, n = default_index(), len(entries())
    acc = rr = 0.0
    kb_rows = [r for r in rows if not r["expected"].startswith("@")]
    for r in kb_rows:
        kw = {"use_intents": use_intents}
        if weights:
            kw["weights"] = weights
        ids = [h.entry.id for h in index.search(r["q"], k=n, **kw)[0]]
        rank = ids.index(r["expected"]) + 1
        acc += rank == 1
        rr += 1 / rank
    return acc / len(kb_rows), rr / len(kb_rows)


def end_to_end(rows: list[dict]) -> tuple[float, list[str], int]:
    """Share of questions whose full ``ask`` answer is the right entry or route (and how many
    ordinary questions got an emergency answer)."""
    ok, misses, flagged = 0, [], 0
    for r in rows:
        a = ask(r["q"])
        flagged += a.kind == "red_flag"
        want = r["expected"]
        right = (a.kind == ROUTES[want]) if want in ROUTES else (
            a.kind == "kb" and a.entry_id == want)
        ok += right
        if not right:
            misses.append(f"{r['q']!r} → {a.kind}/{a.entry_id} (expected {want})")
    return ok / len(rows), misses, flagged


def crisis(rows: list[dict]) -> dict:
    from centinela.public.assistant.crisis_model import model

    model()  # train outside the timed loop
    crisis_rows = [r for r in rows if r["crisis"]]
    ordinary = [r for r in rows if not r["crisis"]]
    t0 = time.perf_counter()
    full = [detect(r["q"]) is not None for r in rows]
    ms = (time.perf_counter() - t0) * 1000 / len(rows)
    t0 = time.perf_counter()
    lex = [detect_lexicon(r["q"]) is not None for r in rows]
    ms_lex = (time.perf_counter() - t0) * 1000 / len(rows)
    by = dict(zip([r["q"] for r in rows], zip(full, lex, strict=True), strict=True))
    return {
        "crisis": len(crisis_rows), "ordinary": len(ordinary),
        "recall": sum(by[r["q"]][0] for r in crisis_rows) / len(crisis_rows),
        "recall_lexicon": sum(by[r["q"]][1] for r in crisis_rows) / len(crisis_rows),
        "false": sum(by[r["q"]][0] for r in ordinary) / len(ordinary),
        "false_lexicon": sum(by[r["q"]][1] for r in ordinary) / len(ordinary),
        "false_examples": [r["q"] for r in ordinary if by[r["q"]][0]],
        "ms": ms, "ms_lexicon": ms_lex,
    }


def redaction() -> tuple[int, int, int, int]:
    path = ROOT / "tests" / "fixtures" / "public" / "redaction_es.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    secrets = removed = altered = 0
    for r in rows:
        out = redact_text(r["text"])
        expected, actual = r["text"], out
        for s in r["secrets"]:
            secrets += 1
            digits = "".join(c for c in s if c.isdigit())
            removed += s not in out and not (digits and digits in re.sub(r"\D", "", out))
            expected = expected.replace(s, "\x00")
        for label in LABELS.values():
            actual = actual.replace(label, "\x00")
        altered += actual != expected
    return len(rows), secrets, removed, altered


def section(new, old, base_new, base_old, e2e_new, e2e_old, cr, red) -> str:
    rows = load_jsonl("questions_v2.jsonl")
    count = {k: sum(r["expected"] == k for r in rows) for k in ROUTES}
    n_kb = len(rows) - sum(count.values())
    lines = [
        HEADING, "",
        f"`python3 benchmarks/public_channels.py` on {platform.machine()} with {os.cpu_count()} "
        f"cores (Python {platform.python_version()}), load average {os.getloadavg()[0]:.1f}. "
        f"Knowledge base: {len(entries())} entries.", "",
        "**Assistant, second evaluation set** (`public/data/eval/questions_v2.jsonl`): "
        f"{e2e_new[3]} questions written after the issue-12 KB entries by reading user questions, "
        f"not the KB text (Spanish and English, slang, no accents), {n_kb} labelled with a KB "
        f"entry plus {count['@legal']} penalty-by-quantity, {count['@dose']} dose and "
        f"{count['@fallback']} out-of-scope questions. Three of its questions "
        "are the ones quoted in issue 12 (the fixes were made for them), so the figures are "
        "optimistic on those.", "",
        "| evaluation set | accuracy@1 | MRR | BM25-only accuracy@1 (baseline) | right answer end to end |",
        "|---|---|---|---|---|",
        f"| original (`questions.jsonl`, published above: 91.0% / 0.952) | {old[0]:.1%} | "
        f"{old[1]:.3f} | {base_old[0]:.1%} | {e2e_old[0]:.1%} |",
        f"| new (`questions_v2.jsonl`) | {new[0]:.1%} | {new[1]:.3f} | {base_new[0]:.1%} | "
        f"{e2e_new[0]:.1%} |", "",
        f"Shipped retrieval vs BM25-only on the new set: {new[0] / base_new[0]:.2f}× accuracy@1. "
        "End to end counts the right KB entry, or the right route for penalty (`legal`), dose "
        "(`dose_refusal`) and out-of-scope (`fallback`) questions. These are the figures of the "
        "first (blind) run on the new set; nothing was tuned on it afterwards. Ordinary "
        f"questions of the new set answered with an emergency message: {e2e_new[2]} of "
        f"{e2e_new[3]} (the emergency numbers shown to someone asking, e.g., which number to "
        "call for an ambulance).", "",
        "**Crisis detection** (`public/data/eval/crisis_eval.jsonl`, written apart from the "
        f"training phrases and never used for training): {cr['crisis']} crisis messages (indirect "
        "ideation, slang, no accents, Quechua, overdose, emergencies, children) and "
        f"{cr['ordinary']} ordinary ones (hard negatives: idioms, questions about suicide or "
        "overdose, found syringes, penalties).", "",
        "| detector | crisis recall | false flags on ordinary messages |", "|---|---|---|",
        f"| lexicon only | {cr['recall_lexicon']:.1%} | {cr['false_lexicon']:.1%} |",
        f"| lexicon + model (shipped) | {cr['recall']:.1%} | {cr['false']:.1%} |", "",
        "First blind pass of the shipped detector on this set, before any change informed by it: "
        "recall 100.0%, false flags 18.9% (model threshold 0.45, no idiom/topic guards). The "
        "guards, threshold 0.6, help-seeking and litter negatives in the training phrases and "
        "a few lexicon forms (conjugations, «muchísimas», «encontré a <niño>») were then added "
        "after reading the misses, and 12 training phrases that duplicated evaluation messages "
        "were removed, so the figures above are no longer blind. "
        f"Remaining false flags: {', '.join(repr(x) for x in cr['false_examples']) or 'none'}. "
        f"Detection costs {cr['ms']:.1f} ms per message, {cr['ms'] / cr['ms_lexicon']:.1f}× the "
        f"lexicon alone ({cr['ms_lexicon']:.2f} ms, same process; the model is trained before "
        "timing).", "",
        f"**Redaction** (`tests/fixtures/public/redaction_es.jsonl`, {red[0]} Spanish sentences "
        f"written for it): {red[2]}/{red[1]} identifiers removed, {red[3]} sentences with any "
        "other character altered.", "",
    ]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    path = Path(__file__).parent / "README.md"
    current = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(HEADING) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(current):
        current = pattern.sub(lambda _m: text.rstrip("\n") + "\n", current)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args(argv)
    new_rows, old_rows = load_jsonl("questions_v2.jsonl"), load_jsonl("questions.jsonl")
    new, old = retrieval(new_rows), retrieval(old_rows)
    base_new = retrieval(new_rows, weights=(1.0, 0.0, 0.0), use_intents=False)
    base_old = retrieval(old_rows, weights=(1.0, 0.0, 0.0), use_intents=False)
    e2e_new = (*end_to_end(new_rows), len(new_rows))  # (share, misses, flagged, n)
    old_kb = [r for r in old_rows if not r["expected"].startswith("@")]
    e2e_old = (*end_to_end(old_kb), len(old_kb))
    cr = crisis(load_jsonl("crisis_eval.jsonl"))
    red = redaction()
    text = section(new, old, base_new, base_old, e2e_new, e2e_old, cr, red)
    print(text)
    print("misses (new set):", *e2e_new[1], sep="\n  ")
    if args.write:
        write_readme(text)
    return 0 if cr["recall"] == 1.0 and red[2] == red[1] and red[3] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
