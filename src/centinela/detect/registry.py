"""The table of detectors: name → class.

Built-in detectors are registered below by plain imports; a new one is a module with a
``Detector`` subclass and one ``register`` line. Upper layers (the early-warning system)
register theirs at start through ``centinela.wiring``. A plugin outside the package may still
register a ``"module:Class"`` path, imported on first use.
"""

from __future__ import annotations

import importlib

from centinela.detect.base import Detector
from centinela.detect.detectors.administration import LateAdministration
from centinela.detect.detectors.bedside import WholeUnitAdministrations
from centinela.detect.detectors.certification import UncertifiedHandler
from centinela.detect.detectors.custody import (
    SeizureTrace,
    SerialReuse,
    TransferNotReceived,
    UnauthorizedReceiver,
)
from centinela.detect.detectors.inventory import InventoryDiscrepancy
from centinela.detect.detectors.loss import LossReport, RepeatedLoss
from centinela.detect.detectors.orders import PurchasesOutgrowUse, SuspiciousOrder
from centinela.detect.detectors.patients import (
    DispenseHighMME,
    HighMME,
    MultipleProviders,
    OverlappingPrescriptions,
)
from centinela.detect.detectors.pharmacy import PharmacyPatientMix
from centinela.detect.detectors.prescriber import PrescriberVolume
from centinela.detect.detectors.psychotropics import (
    CoprescribingPrescriber,
    OpioidBenzodiazepineOverlap,
)
from centinela.detect.detectors.records import (
    BalanceGap,
    DispenseWithoutPrescription,
    PrescriptionFormMisuse,
)
from centinela.detect.detectors.refills import EarlyRefills
from centinela.detect.detectors.regional import RegionalSurge
from centinela.detect.detectors.regional_outlier import RegionalOutlier
from centinela.detect.detectors.scope import PrescriberScope
from centinela.detect.detectors.supply import UnrecordedSupply
from centinela.detect.detectors.waste import DisposalShare, UnwitnessedWaste, WasteShare

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


# Per-event rules (also run in real time on every accepted import).
register("serial_reuse", SerialReuse)
register("unauthorized_receiver", UnauthorizedReceiver)
register("loss_report", LossReport)
register("uncertified_handler", UncertifiedHandler)
register("dispense_high_mme", DispenseHighMME)
# Statistical and reconciliation detectors (scheduled and on demand).
register("transfer_not_received", TransferNotReceived)
register("seizure_trace", SeizureTrace)
register("repeated_loss", RepeatedLoss)
register("waste_share", WasteShare)
register("waste_unwitnessed", UnwitnessedWaste)
register("late_administration", LateAdministration)
register("whole_unit_administrations", WholeUnitAdministrations)
register("disposal_share", DisposalShare)
register("prescriber_volume", PrescriberVolume)
register("early_refills", EarlyRefills)
register("prescriber_scope", PrescriberScope)
register("pharmacy_patient_mix", PharmacyPatientMix)
register("multiple_providers", MultipleProviders)
register("overlapping_prescriptions", OverlappingPrescriptions)
register("high_mme", HighMME)
register("suspicious_order", SuspiciousOrder)
register("purchases_outgrow_use", PurchasesOutgrowUse)
register("inventory_discrepancy", InventoryDiscrepancy)
register("unrecorded_supply", UnrecordedSupply)
register("regional_surge", RegionalSurge)
# Opioids with benzodiazepines (controlled psychotropics in the ledger).
register("opioid_benzodiazepine_overlap", OpioidBenzodiazepineOverlap)
register("coprescribing_prescriber", CoprescribingPrescriber)
# Over the official records of the intake extensions (docs/intake.md).
register("prescription_form_misuse", PrescriptionFormMisuse)
register("balance_gap", BalanceGap)
# Over the rows rejected at intake (kept with their reason).
register("dispense_without_prescription", DispenseWithoutPrescription)
register("regional_outlier", RegionalOutlier)
