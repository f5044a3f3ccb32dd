"""The table of detectors: name → class path, imported lazily.

Built-in detectors are registered exactly as a new one would be: add a module with a
``Detector`` subclass and one ``register`` line (or call ``register`` from a plugin at import).
"""

from __future__ import annotations

import importlib

from centinela.detect.base import Detector

DETECTORS: dict[str, str | type[Detector]] = {}


def register(name: str, target: str | type[Detector]) -> None:
    """Register detector ``name`` implemented by ``"module:Class"`` (imported on first use) or
    by the class itself (an upper layer registering at start, see ``centinela.wiring``)."""
    if isinstance(target, str) and ":" not in target:
        raise ValueError(f"detector target must be 'module:Class', got {target!r}")
    DETECTORS[name] = target


def load(name: str) -> Detector:
    """Instantiate the detector registered as ``name``."""
    try:
        target = DETECTORS[name]
    except KeyError:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}") from None
    if isinstance(target, str):
        module, cls = target.split(":")
        detector: Detector = getattr(importlib.import_module(module), cls)()
    else:
        detector = target()
    if detector.name != name:
        raise ValueError(f"detector {target} declares name {detector.name!r}, registered as {name!r}")
    return detector


def all_detectors(realtime: bool | None = None) -> list[Detector]:
    """Return every registered detector (only the real-time ones when ``realtime``)."""
    found = [load(n) for n in DETECTORS]
    if realtime is None:
        return found
    return [d for d in found if d.realtime == realtime]


_PKG = "centinela.detect.detectors"
# Per-event rules (also run in real time on every accepted import).
register("serial_reuse", f"{_PKG}.custody:SerialReuse")
register("unauthorized_receiver", f"{_PKG}.custody:UnauthorizedReceiver")
register("loss_report", f"{_PKG}.loss:LossReport")
register("uncertified_handler", f"{_PKG}.certification:UncertifiedHandler")
register("dispense_high_mme", f"{_PKG}.patients:DispenseHighMME")
# Statistical and reconciliation detectors (scheduled and on demand).
register("transfer_not_received", f"{_PKG}.custody:TransferNotReceived")
register("seizure_trace", f"{_PKG}.custody:SeizureTrace")
register("repeated_loss", f"{_PKG}.loss:RepeatedLoss")
register("waste_share", f"{_PKG}.waste:WasteShare")
register("waste_unwitnessed", f"{_PKG}.waste:UnwitnessedWaste")
register("prescriber_volume", f"{_PKG}.prescriber:PrescriberVolume")
register("multiple_providers", f"{_PKG}.patients:MultipleProviders")
register("overlapping_prescriptions", f"{_PKG}.patients:OverlappingPrescriptions")
register("high_mme", f"{_PKG}.patients:HighMME")
register("suspicious_order", f"{_PKG}.orders:SuspiciousOrder")
register("purchases_outgrow_use", f"{_PKG}.orders:PurchasesOutgrowUse")
register("inventory_discrepancy", f"{_PKG}.inventory:InventoryDiscrepancy")
register("regional_surge", f"{_PKG}.regional:RegionalSurge")
# Opioids with benzodiazepines (controlled psychotropics in the ledger).
register("opioid_benzodiazepine_overlap", f"{_PKG}.psychotropics:OpioidBenzodiazepineOverlap")
register("coprescribing_prescriber", f"{_PKG}.psychotropics:CoprescribingPrescriber")
# Over the official records of the intake extensions (docs/intake.md).
register("prescription_form_misuse", f"{_PKG}.records:PrescriptionFormMisuse")
register("balance_gap", f"{_PKG}.records:BalanceGap")
register("regional_outlier", f"{_PKG}.regional_outlier:RegionalOutlier")
