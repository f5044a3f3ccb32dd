"""Extra record files an import reads beside the spec's five (the extension point).

``EXTRA_FILES`` maps a file stem (``overdoses`` reads ``overdoses.csv`` or ``overdoses.jsonl``)
to ``"module:function"``. ``centinela import DIR`` and the upload endpoint call
``function(session, path: pathlib.Path, import_id: int) -> dict`` inside the import's one
transaction, after the spec's files; the dict holds the counts ``accepted``, ``duplicates``,
``conflicts`` and ``rejected`` (optionally ``read``, ``updated`` and ``error``). The function must
not commit; raising aborts the whole import. See ``docs/intake.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

ExtraFn = Callable[[Session, Path, int], dict]

# Areas register their files here, e.g. "overdoses": "centinela.ews.overdoses:import_file".
EXTRA_FILES: dict[str, str] = {
    "overdoses": "centinela.ews.intake:import_overdoses_file",
    "balances": "centinela.ledger.balances:import_balances_file",
    "prescription_forms": "centinela.registry.forms:import_forms_file",
    "parcels": "centinela.customs.intake:import_parcels_file",
    "certificates": "centinela.certification.intake:import_certificates_file",
}


def load(stem: str) -> ExtraFn:
    """Import and return the function registered for ``stem``."""
    target = EXTRA_FILES[stem]
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
