"""docs/detectors.md is generated from the registry and must match it."""

from __future__ import annotations

from pathlib import Path

from centinela.detect.docs import render_markdown
from centinela.detect.registry import DETECTORS, all_detectors

DOC = Path(__file__).resolve().parent.parent / "docs" / "detectors.md"


def test_detector_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/detectors.md is stale: run `centinela detectors --write docs/detectors.md`")


def test_every_detector_is_documented_and_declares_a_valid_subject():
    from centinela.alerts.models import SUBJECT_KINDS

    for det in all_detectors():
        assert det.name in DETECTORS
        assert det.subject_kind in SUBJECT_KINDS
        assert det.title and (type(det).__doc__ or "").strip()
        assert f"## {det.name}" in DOC.read_text(encoding="utf-8")
