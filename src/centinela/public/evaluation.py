"""Quality of the assistant on the shipped evaluation sets: accuracy@1 and MRR of retrieval,
red-flag recall, false red-flag rate, dose-refusal and fallback behaviour."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from centinela.public.assistant.dose import is_dose_question
from centinela.public.assistant.engine import CONFIDENCE_THRESHOLD, ask
from centinela.public.assistant.kb import entries
from centinela.public.assistant.redflags import detect
from centinela.public.assistant.retrieval import confidence, default_index


def load_jsonl(name: str, path: Path | None = None) -> list[dict]:
    """Read an evaluation set from ``public/data/eval`` (or ``path``)."""
    src = path or (resources.files("centinela") / "public" / "data" / "eval" / name)
    return [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def evaluate(questions: list[dict] | None = None, redflags: list[dict] | None = None) -> dict:
    """Run every metric; return a JSON-ready dict (``misses`` lists the wrong answers)."""
    questions = questions if questions is not None else load_jsonl("questions.jsonl")
    redflags = redflags if redflags is not None else load_jsonl("redflags.jsonl")
    index = default_index()
    n_kb = len(entries())
    kb_rows = [q for q in questions if not q["expected"].startswith("@")]
    hits1 = rr = answered_right = 0.0
    misses = []
    t0 = time.perf_counter()
    by_lang: dict[str, list[int]] = {}
    kb_conf = []
    for q in kb_rows:
        hits, cov = index.search(q["q"], k=n_kb)
        kb_conf.append(confidence(hits, cov))
        ids = [h.entry.id for h in hits]
        by_lang.setdefault(q["lang"], []).append(int(ids[0] == q["expected"]))
        rank = ids.index(q["expected"]) + 1 if q["expected"] in ids else None
        hits1 += rank == 1
        rr += 1 / rank if rank else 0.0
        full = ask(q["q"])
        answered_right += full.kind == "kb" and full.entry_id == q["expected"]
        if rank != 1:
            misses.append({"q": q["q"], "expected": q["expected"], "got": ids[0]})
    elapsed = time.perf_counter() - t0
    flagged = [r for r in redflags if detect(r["q"]) is not None]
    category_ok = sum(1 for r in redflags if (f := detect(r["q"])) and f.category == r["category"])
    false_flags = [q["q"] for q in questions if detect(q["q"]) is not None]
    dose = [q for q in questions if q["expected"] == "@dose"]
    not_dose = [q for q in questions if q["expected"] != "@dose"]
    fallback = [q for q in questions if q["expected"] == "@fallback"]
    fb_ok = sum(1 for q in fallback if ask(q["q"]).kind == "fallback")
    locator = [q for q in questions if q["expected"] == "@locator"]
    return {
        "kb_entries": n_kb,
        "questions": len(kb_rows),
        "accuracy_at_1": round(hits1 / len(kb_rows), 4),
        "mrr": round(rr / len(kb_rows), 4),
        "answered_correctly_end_to_end": round(answered_right / len(kb_rows), 4),
        "below_threshold_share": round(sum(c < CONFIDENCE_THRESHOLD for c in kb_conf)
                                       / len(kb_conf), 4),
        "accuracy_by_language": {k: round(sum(v) / len(v), 4) for k, v in by_lang.items()},
        "redflag_messages": len(redflags),
        "redflag_recall": round(len(flagged) / len(redflags), 4) if redflags else None,
        "redflag_category_accuracy": round(category_ok / len(redflags), 4) if redflags else None,
        "false_redflag_rate": round(len(false_flags) / len(questions), 4),
        "false_redflags": false_flags,
        "dose_recall": round(sum(is_dose_question(q["q"]) for q in dose) / len(dose), 4)
        if dose else None,
        "dose_false_rate": round(sum(is_dose_question(q["q"]) for q in not_dose)
                                 / len(not_dose), 4),
        "out_of_scope": len(fallback),
        "out_of_scope_fallback_rate": round(fb_ok / len(fallback), 4) if fallback else None,
        "locator_questions": len(locator),
        "ms_per_question": round(1000 * elapsed / max(1, len(kb_rows)), 2),
        "misses": misses,
    }
