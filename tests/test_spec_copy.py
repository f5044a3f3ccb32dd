"""The contract's copy in docs/ is the shared contract, word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_copy_of_the_reporting_format_is_the_shared_contract():
    copy = (ROOT / "docs" / "reporting-format.md").read_text(encoding="utf-8")
    assert copy.startswith("<!-- A copy of the shared data contract")
    body = copy.split("-->\n\n", 1)[1]
    assert body.startswith("# Centinela reporting format, version 1")
    shared = ROOT.parent / "shared" / "spec" / "reporting-format.md"
    if not shared.exists():
        pytest.skip("the shared contract is not beside this checkout")
    assert body == shared.read_text(encoding="utf-8")
