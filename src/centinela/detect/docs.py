"""Generate ``docs/detectors.md`` from the detector registry (a test keeps the file in sync)."""

from __future__ import annotations

import inspect

from centinela.config import Settings
from centinela.detect.registry import DETECTORS, load
from centinela.detect.scoring import __doc__ as SCORING_DOC

HEADER = """# Detectors

Generated from the detector registry by `centinela detectors --write docs/detectors.md`
(`tests/test_detect_docs.py` fails when this file is stale). Every detector is a small class
registered in `centinela/detect/registry.py`; a new one is added the same way. The early-warning
detectors (`ews_*`, `centinela/ews/detectors.py`) are registered at start by
`centinela.wiring.install()` and run by the same engine.

`centinela detect` runs all of them over what is stored, judged as of the latest movement
(`--now` overrides; under 1 % of movements dated past the clock, typos such as 2062, do
not count); real-time detectors also run on every accepted import
(`centinela.detect.realtime.after_import`). Each alert carries its evidence: observed value,
expected value or peer range, percentile or z, the window, the movements behind it (first 20
`event_ids` and `event_count`) and a one-sentence Spanish summary.

One open alert per detector and subject: a repeat (another loss, another month) is added to it
as an occurrence (`evidence.occurrences`, each with its window, score, finding and first event
ids; `evidence.occurrence_count`) instead of a new row, and the alert keeps the strongest
occurrence's score and summary; authorities are notified again only when the severity rises.
A later run's finding replaces the occurrence of the same finding (product, substance, metric)
whose window it overlaps; two findings of one run on one subject (two presentations) are two
occurrences. Drafts are stored strongest first, so the same data give the same alerts in every
run, whatever order a detector lists its findings in.
Alerts are never withdrawn by a run: where a detector is marked *Rechecks* (a full run judges
every finding of its lookback again), an open alert in the run's lookback that the run does not
find again gets `evidence.not_found_since` (the day of the first such run) and a notice on its
page: the data behind it changed (a late receipt booked, a certificate registered); the analyst
closes it. The mark goes when the finding comes back; incremental runs leave it alone.
Closing a case as `justified` or `false_positive` suppresses new findings of the same detector
on the same subject for `alert_suppress_days` (default 180) unless the MME involved grows
1.5-fold. Real-time rules judge only events that occurred within `realtime_window_days`
(default 7) of the import: a backfill of history queues no delivery; batch detection judges it.
Routing: an alert's district (else its establishment's) decides its region, so Lima
Metropolitana (1501xx) reaches its DIRIS and Callao (07xxxx) its own authority, never DIRESA
Lima (provincias); establishments and departments named in the evidence add every regional
authority involved.

## Score and severity
"""


def render_markdown() -> str:
    """Return the Markdown reference of every registered detector."""
    fields = Settings.model_fields
    out = [HEADER, inspect.cleandoc(SCORING_DOC or "").split("\n", 1)[1].strip(), "",
           "Severity bands: low < 40 ≤ medium < 65 ≤ high < 85 ≤ critical.", "",
           "One root cause, one alert: a patient finding of a detector marked *Grouped under* "
           "whose every prescriber has an open alert (medium or above) of the named detector "
           "is kept, graded low and listed under that alert (`grouped_under` in its evidence; "
           "`centinela.detect.grouping`): the authorities act on the prescriber's alert.", "",
           "| detector | subject | real time | topics |", "|---|---|---|---|"]
    dets = [load(n) for n in DETECTORS]
    for d in dets:
        out.append(f"| [`{d.name}`](#{d.name}) | {d.subject_kind} | {'yes' if d.realtime else 'no'} "
                   f"| {', '.join(d.topics)} |")
    for d in dets:
        out += ["", f"## {d.name}", "", f"**{d.title}** — subject `{d.subject_kind}`"
                + (", real time" if d.realtime else "") + ".", "",
                inspect.cleandoc(type(d).__doc__ or "")]
        if d.tolerates:
            out += ["", "Tolerates: " + d.tolerates]
        if d.group_under:
            out += ["", "Grouped under: " + ", ".join(f"`{g}`" for g in d.group_under) + "."]
        if d.rechecks:
            out += ["", "Rechecks: an open alert a full run does not find again is marked "
                        "`not_found_since`."]
        if d.thresholds:
            out += ["", "Thresholds: " + "; ".join(f"{k} {v}" for k, v in d.thresholds.items()) + "."]
        if d.settings_used:
            out += ["", "Settings: " + "; ".join(
                f"`{s}` (`CENTINELA_{s.upper()}`, default {fields[s].default}) — {fields[s].description}"
                for s in d.settings_used) + "."]
        if d.evidence_fields:
            out += ["", "Evidence: " + ", ".join(f"`{e}`" for e in d.evidence_fields) + "."]
    return "\n".join(out) + "\n"
