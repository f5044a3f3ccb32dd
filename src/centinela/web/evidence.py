"""An alert's evidence for people: a headline and plain sentences per detector, and labelled
values with units, in the reader's language (no raw keys, no English codes in Spanish).

Stored summaries are Spanish sentences written at detection time; the headline is rendered
again here from the evidence and a per-detector template, so the English interface reads
English. A detector without a template keeps its stored summary (Spanish) in Spanish and a
generic line in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from centinela.alerts.models import Alert
from centinela.reference import ubigeo as ubigeo_ref
from centinela.web.codes import code, label
from centinela.web.fmt import (
    format_date,
    format_month,
    format_number,
    format_percent_value,
    format_quantity,
)
from centinela.web.i18n import catalogs, translate
from centinela.web.names import department_name, hide_patients_text

if TYPE_CHECKING:
    from centinela.ews.models import Signal

HIDDEN = {"event_ids", "occurrences", "tau", "window", "metric", "tests", "horizon_months",
          "series", "score_z", "smoothed_per_100k", "effective_patients", "threshold_ratio",
          "region_name", "statistics", "last_28_days", "series_start", "report_ids",
          "registered", "traced", "expected_orders", "receipts_matched", "provisional",
          "chain", "referral_hospital", "onset_p", "prescriber_ids", "observed_capped",
          "unconfirmed_only", "variant"}
# Units of the evidence's own keys; "observed"/"expected" take the detector's unit below.
KEY_UNITS = {
    "mme": "mme", "observed_mme": "mme", "expected_mme": "mme", "total_mme": "mme",
    "mme_per_patient": "mme", "peak_mme": "mme_day", "peer_median_mme": "mme",
    "fentanyl_mg": "mg", "received_mg": "mg", "used_mg": "mg", "stock_change_mg": "mg",
    "excess_mg": "mg", "prior_6_month_max": "mg", "peak_diazepam_mg": "mg",
    "units": "units", "units_consumed": "units", "units_shipped": "units",
    "units_received": "units", "units_missing": "units", "units_lost": "units",
    "throughput_units": "units", "units_handled": "units", "units_wasted": "units",
    "excess_units": "units", "missing_units": "units", "units_out": "units",
    "units_unexplained": "units", "seized_units": "units", "doses": "units",
    "rate_per_100k": "mme_per100k", "expected_per_100k": "mme_per100k",
    "national_rate_per_100k": "per100k", "days_above": "days", "window_days": "days",
    "receipt_days": "days", "overlap_days": "days", "population": "",
    "pattern_mme": "mme", "pattern_mg": "mg", "radius_km": "km", "study_days": "days",
    "days_late": "days",
}
DETECTOR_UNITS = {
    "suspicious_order": "mg", "prescriber_volume": "mme", "high_mme": "mme_day",
    "dispense_high_mme": "mme_day", "regional_surge": "dispensations",
    "repeated_loss": "events", "waste_unwitnessed": "events",
    "overlapping_prescriptions": "days", "inventory_discrepancy": "units",
}
SHARE_KEYS = {"share", "rate", "peer_rate", "base_rate", "national_rate", "establishment_rate",
              "one_off_share", "top_prescriber_share", "top_prescribers_share_of_all_fills",
              "prescriber_away_share", "patient_away_share", "uniform_share"}
DATE_KEYS = {"certified_on", "certificate_valid_until", "deadline", "authorization_expires", "due",
             "onset", "pattern_end", "occurred_date", "recorded_date"}
PERCENT_DETECTORS = ("waste_share", "disposal_share", "pharmacy_patient_mix")
# Early-warning evidence: the name in the reader's language is shown as "substance"; ``key`` is
# the series' technical key (an InChIKey or "name:…").
EWS_HIDDEN = {"substance_es", "key"}


class EvidenceItem(BaseModel):
    key: str  # the stored evidence key (for the API and the title attribute only)
    label: str
    value: str


class Explained(BaseModel):
    headline: str
    sentences: list[str]
    items: list[EvidenceItem]


def _fmt_value(key: str, value, unit: str, lang: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate("common.yes" if value else "common.no", lang)
    if key in DATE_KEYS and isinstance(value, str):
        return format_date(value[:10], lang)
    if key in ("p_value", "q_value") and isinstance(value, int | float):
        return ("< " + format_number(0.0001, lang, 4)) if value < 1e-4 else format_number(
            value, lang, 4)
    if key in SHARE_KEYS and isinstance(value, int | float):
        return format_percent_value(value, lang)
    if key == "period" and isinstance(value, str) and "/" in value:
        return " – ".join(code(x, lang) for x in value.split("/"))
    if key == "months" and isinstance(value, list):
        return ", ".join(format_month(str(m), lang) for m in value)
    if isinstance(value, int | float):
        if unit:
            return format_quantity(value, unit, lang, None if unit != "mg" else 1)
        return format_number(value, lang)
    if isinstance(value, dict):
        return "; ".join(f"{_label(k, lang) if 'evidence.' + k in catalogs()['es'] else code(k, lang)}"
                         f": {_fmt_value(k, v, unit, lang)}"
                         for k, v in value.items())
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return ", ".join(_dict_entry(v, lang) for v in value[:10]) + \
                (f" (+{len(value) - 10})" if len(value) > 10 else "")
        if value and all(isinstance(v, list) for v in value):
            return translate("evidence.n_records", lang, n=len(value))
        if key == "peer_range" and len(value) == 2:
            return " – ".join(_fmt_value("x", v, unit, lang) for v in value)
        return ", ".join(code(v, lang) for v in value[:30])
    return code(value, lang)


def _dict_entry(v: dict, lang: str) -> str:
    ident = v.get("id") or v.get("establishment_id") or v.get("event_id") or ""
    if "share" in v:
        return f"{ident} ({format_percent_value(v['share'], lang)})"
    if "observed" in v and "expected" in v:
        return f"{ident} ({translate('evidence.vs_expected', lang, obs=format_number(v['observed'], lang), exp=format_number(v['expected'], lang, 1))})"
    if "units_on_books" in v:
        return f"{ident} ({format_quantity(v['units_on_books'], 'units', lang)})"
    return str(ident)


def _label(key: str, lang: str) -> str:
    k = "evidence." + key
    if k in catalogs()["es"]:
        return translate(k, lang)
    return key.replace("_", " ").capitalize()


def items(alert: Alert, evidence: dict, lang: str) -> list[EvidenceItem]:
    """Return the evidence as labelled values with units (technical keys left out)."""
    out = []
    ews = alert.detector.startswith("ews_")
    for key, value in evidence.items():
        if key in HIDDEN or (ews and key in EWS_HIDDEN):
            continue
        said = _ews_value(key, value, evidence, lang) if ews else None
        if said is not None:
            out.append(EvidenceItem(key=key, label=_label(key, lang), value=said))
            continue
        if key in ("observed", "expected", "peer_range"):
            unit = DETECTOR_UNITS.get(alert.detector, "")
            if alert.detector in (*PERCENT_DETECTORS, "purchases_outgrow_use"):
                unit = ""
        elif key in ("rate_per_100k", "national_rate_per_100k") and \
                alert.detector == "regional_surge":
            unit = "disp_per100k"
        else:
            unit = KEY_UNITS.get(key, "")
        if key == "occurrence_count":
            value = int(value or 0)
        label = _label(key, lang)
        if key in ("observed", "expected") and isinstance(evidence.get("metric"), str):
            label += f" ({code(evidence['metric'], lang)})"
        if key == "event_count":
            label = translate("evidence.event_count", lang)
        text = _fmt_value(key, value, unit, lang)
        if alert.detector in PERCENT_DETECTORS and key in ("observed", "expected"):
            text = format_percent_value(value, lang)
        if key == "observed" and evidence.get("observed_capped"):
            text = "≥ " + text  # a ratio with no finite value, reported at its cap
        if alert.detector in PERCENT_DETECTORS and key == "peer_range" \
                and isinstance(value, list):
            text = " – ".join(format_percent_value(v, lang) for v in value)
        out.append(EvidenceItem(key=key, label=label, value=text))
    return out


# ---------------------------------------------------------------- sentences per detector

def _n(v, lang, digits=None) -> str:
    return format_number(v, lang, digits) if isinstance(v, int | float) else "—"


def _q(v, unit, lang, digits=None) -> str:
    return format_quantity(v, unit, lang, digits) if isinstance(v, int | float) else "—"


def _ratio(ev: dict) -> float | None:
    o, e = ev.get("observed"), ev.get("expected")
    if isinstance(ev.get("ratio"), int | float):
        return float(ev["ratio"])
    if isinstance(o, int | float) and isinstance(e, int | float) and e:
        return o / e
    return None


def _params(alert: Alert, ev: dict, lang: str) -> dict[str, str]:
    """Every value a sentence may name, formatted for ``lang``."""
    months = ev.get("months") or []
    driver = ev.get("single_driver") or {}  # regional_surge: one prescriber or establishment
    def month(i):
        return format_month(months[i], lang, "long") if months else format_date(
            alert.window_start, lang)
    ratio = _ratio(ev)
    dates = {"start": format_date(alert.window_start, lang),
             "end": format_date(alert.window_end, lang)}
    drivers = ev.get("drivers") or {}
    ests = ev.get("establishments")
    est_list = ", ".join(_dict_entry(e, lang) if isinstance(e, dict) else str(e)
                         for e in (ests if isinstance(ests, list) else (drivers.get("establishments") or []))[:3])
    pres = ev.get("prescribers")
    risk = ev.get("risk_factors") or []
    obs = ev.get("observed")
    return {
        "subject": alert.subject_id, **dates,
        "substance": code(ev.get("substance") or "fentanyl", lang),
        "observed": _n(obs, lang, 1 if isinstance(obs, float) and not obs.is_integer() else None),
        "expected": _n(ev.get("expected"), lang,
                       2 if isinstance(ev.get("expected"), float) and ev["expected"] < 1 else 1),
        "ratio": _n(ratio, lang, 1) if ratio is not None else "—",
        "first_month": month(0), "last_month": month(-1),
        "mme": _q(ev.get("mme"), "mme", lang, 0),
        "units": _n(ev.get("units") or ev.get("units_lost") or ev.get("missing_units")
                    or ev.get("units_missing") or ev.get("units_consumed"), lang),
        "fentanyl_mg": _q(ev.get("fentanyl_mg"), "mg", lang, 1),
        "product": str(ev.get("product_code") or "—"),
        "peer_median": _n(ev.get("expected"), lang, 1),
        "peer_group": code(ev.get("peer_group") or "—", lang),
        "patients": _n(ev.get("patients"), lang),
        "percentile": _n(ev.get("percentile") or ev.get("peer_percentile"), lang, 0),
        "history_ratio": _n(ev.get("history_ratio"), lang, 1),
        "days_above": _n(ev.get("days_above"), lang, 0),
        "risk": ", ".join(code(r, lang) for r in risk) or translate("common.none", lang),
        "prescribers": _n(len(pres) if isinstance(pres, list) else pres, lang),
        "pharmacies": _n(len(ev["pharmacies"]) if isinstance(ev.get("pharmacies"), list)
                         else ev.get("pharmacies"), lang),
        "overlap_events": _n(ev.get("overlap_events"), lang),
        "shipped": _n(ev.get("units_shipped"), lang), "sender": str(ev.get("sender") or "—"),
        "receiver": str(ev.get("receiver") or "—"),
        "received": _n(ev.get("units_received"), lang),
        "receipt_days": _n(ev.get("receipt_days"), lang),
        "custodian": str(ev.get("last_custodian") or "—"),
        "seizure": str(ev.get("seizure_id") or "—"),
        "establishments": est_list or "—",
        "n_establishments": _n(len(ests) if isinstance(ests, list) else ests, lang),
        "reason": code(ev.get("reason") or "—", lang),
        "rate": format_percent_value(ev.get("rate"), lang) if isinstance(
            ev.get("rate"), int | float) else "—",
        "peer_rate": format_percent_value(ev.get("peer_rate"), lang) if isinstance(
            ev.get("peer_rate"), int | float) else "—",
        "share": format_percent_value(obs, lang) if isinstance(obs, int | float) else "—",
        "peer_share": format_percent_value(ev.get("expected"), lang) if isinstance(
            ev.get("expected"), int | float) else "—",
        "excess_units": _n(ev.get("excess_units"), lang, 1),
        "early_renewals": _n(ev.get("early_renewals"), lang),
        "dispenses": _n(ev.get("dispenses"), lang),
        "serial_count": _n(ev.get("serial_count"), lang),
        "administrations": _n(ev.get("administrations"), lang),
        "whole_units": _n(ev.get("whole_units"), lang),
        "sender_list": ", ".join(str(x) for x in ev.get("senders") or []) or "—",
        "late_doses": _n(ev.get("late_doses"), lang),
        "late_courses": _n(ev.get("late_courses"), lang),
        "courses": _n(ev.get("courses"), lang),
        "night_doses": _n(ev.get("night_doses"), lang),
        "without_residue": _n(ev.get("without_residue"), lang),
        "scope": code(ev.get("scope") or "—", lang),
        "renewals": _n(ev.get("renewals"), lang),
        "days_ahead": _n(ev.get("days_ahead"), lang, 0),
        "units_out": _n(ev.get("units_out"), lang),
        "units_in": _n(ev.get("units_in"), lang),
        "out_share": format_percent_value(ev.get("share_of_outflows"), lang) if isinstance(
            ev.get("share_of_outflows"), int | float) else "—",
        "self_witnessed": _n(ev.get("self_witnessed"), lang),
        "waste_events": _n(ev.get("waste_events"), lang),
        "rate_100k": _n(ev.get("rate_per_100k"), lang, 0),
        "driver": str(driver.get("id") or "—"),
        "driver_share": format_percent_value(driver["share"], lang)
        if isinstance(driver.get("share"), int | float) else "—",
        "expected_100k": _n(ev.get("expected_per_100k"), lang, 0),
        "place": str(ev.get("region_name") or department_name(alert.subject_id[:2])
                     or alert.subject_id),
        "department": department_name(alert.department) or alert.subject_id,
        "channel": code(ev.get("channel") or "—", lang),
        "deadline": format_date(str(ev.get("deadline") or "")[:10] or None, lang),
        "role": code(ev.get("role") or "—", lang),
        "events": _n(ev.get("patient_facing_events") or ev.get("events") or ev.get("event_count"), lang),
        "reports": _n(ev.get("reports"), lang),
        "kinds": ", ".join(code(k, lang) for k in ev.get("kinds") or []) or "—",
        "methods": ", ".join(code(m, lang) for m in (ev.get("methods") or {})) or "—",
        "series_substance": code(ev.get("substance") or "—", lang),
        "use_ratio": _n(ev.get("use_ratio"), lang, 1),
        "received_mg": _q(ev.get("received_mg"), "mg", lang, 1),
        "built_mg": _q(ev.get("built_mg"), "mg", lang, 1),
        "seizures": ", ".join(str(x) for x in ev.get("seizures") or []) or "—",
        "cover_before": _n(ev.get("cover_months_before"), lang, 1),
        "cover_after": _n(ev.get("cover_months_after"), lang, 1),
        "use_months": _n(ev.get("months_of_use_built"), lang, 0)
        if isinstance(ev.get("months_of_use_built"), int | float) else "—",
        "peer_times": _n(ev["built_mg"] / ev["peer_month_mg"], lang, 0)
        if isinstance(ev.get("built_mg"), int | float) and isinstance(ev.get("peer_month_mg"), int | float)
        and ev["peer_month_mg"] > 0 else "—",
        "follow_up": _n(ev.get("follow_up_months"), lang),
        "used_mg": _q(ev.get("used_mg"), "mg", lang, 1),
        "counted_drop_mg": _q(-ev["stock_change_mg"], "mg", lang, 1)
        if isinstance(ev.get("stock_change_mg"), int | float) else "—",
        "overlap_days": _n(ev.get("overlap_days"), lang, 0),
        "peak_mme": _n(ev.get("peak_mme"), lang, 0),
        "gap": _n(ev.get("units_unexplained"), lang),
        "period": " – ".join(code(x, lang) for x in str(ev.get("period") or "—").split("/")),
        "forms": _n(len(ev["forms"]) if isinstance(ev.get("forms"), list) else ev.get("forms"), lang),
        "occurrences": _n(ev.get("occurrence_count") or 1, lang),
        "last_report": format_date(str(ev.get("receiver_last_report") or "")[:10] or None, lang),
        "n_shipments": _n(len(ev["shipments"]) if isinstance(ev.get("shipments"), list)
                          else ev.get("shipments"), lang),
        "one_off_fills": _n(ev.get("one_off_fills"), lang),
        "fills": _n(ev.get("fills"), lang),
        "top_prescribers": ", ".join(_dict_entry(x, lang) for x in (ev.get("top_prescribers") or [])
                                     if isinstance(x, dict)) or "—",
        "away_share": format_percent_value(ev.get("prescriber_away_share"), lang) if isinstance(
            ev.get("prescriber_away_share"), int | float) else "—",
        "onset": format_date(str(ev.get("onset") or "")[:10] or None, lang),
        "pattern_mme": _q(ev.get("pattern_mme"), "mme", lang, 0),
        "receiver_count": _n(ev.get("receiver_count"), lang),
        "receivers_served": _n(ev.get("receivers_served"), lang),
        "prescriber_count": _n(ev.get("prescriber_count"), lang),
        **(_ews_params(alert, ev, lang) if alert.detector.startswith("ews_") else {}),
    }


def _variant(alert: Alert, ev: dict) -> str:
    if alert.detector == "prescriber_volume":
        return "prescriber_volume." + ("intensity" if ev.get("criterion") == "intensity"
                                       else "volume")
    if alert.detector == "regional_surge" and isinstance(ev.get("single_driver"), dict):
        return "regional_surge.single"
    if alert.detector == "regional_outlier" and ev.get("single_outlet"):
        return "regional_outlier.single"
    if alert.detector == "suspicious_order" and "stock_build_up" in (ev.get("criteria") or []):
        return "suspicious_order.build_up"
    if alert.detector == "suspicious_order" and "stock_hoard" in (ev.get("criteria") or []):
        return "suspicious_order.hoard"
    if (alert.detector == "purchases_outgrow_use" and ev.get("observed_capped")
            and (ev.get("stock_change_mg") or 0) < 0):
        return "purchases_outgrow_use.capped"
    if alert.detector == "ews_aberration" and ev.get("unconfirmed_only"):
        return "ews_aberration.unconfirmed"
    if alert.detector == "transfer_not_received" and ev.get("reason") == "receiver_silent":
        return "transfer_not_received.silent"
    if alert.detector == "transfer_not_received" and ev.get("reason") == "receiver_many":
        return "transfer_not_received.receiver"
    if alert.detector == "transfer_not_received" and ev.get("reason") == "sender_many":
        return "transfer_not_received.sender"
    if alert.detector == "serial_reuse" and alert.subject_kind == "professional":
        return "serial_reuse.professional"
    if alert.detector == "serial_reuse" and ev.get("same_hand"):
        return "serial_reuse.same_hand"
    if alert.detector == "seizure_trace" and not ev.get("last_custodian"):
        return "seizure_trace.untraced" + ("_serial" if alert.subject_kind == "serial" else "")
    if alert.detector == "seizure_trace" and ev.get("reason") == "seized_serials":
        return "seizure_trace.lot"
    if alert.detector == "seizure_trace" and alert.subject_kind == "serial":
        return "seizure_trace.serial"
    if alert.detector == "prescription_form_misuse" and alert.subject_kind == "establishment":
        return "prescription_form_misuse.establishment"
    return alert.detector


def explain(alert: Alert, evidence: dict, lang: str = "es") -> Explained:
    """Return the headline, the plain sentences and the labelled evidence of ``alert``."""
    params = _params(alert, evidence, lang)
    cats = catalogs()
    key = "say." + _variant(alert, evidence)
    sentences = []
    if key in cats["es"]:
        try:
            sentences.append(translate(key, lang, **params))
        except (KeyError, IndexError, ValueError):
            pass
    for extra in ("say.peers", "say.occurrences", "say.seized_lot", "say.ews_late_result"):
        fn = EXTRA.get(extra)
        if fn and fn(alert, evidence):
            sentences.append(translate(extra, lang, **params))
    if sentences:
        headline = sentences[0]
    elif lang == "es":
        headline = code(alert.summary, lang)
    else:
        headline = translate("say.generic", lang,
                             **{**params, "subject": alert.subject_id, "detector": alert.detector})
    return Explained(headline=headline, sentences=sentences[1:] if sentences else [],
                     items=items(alert, evidence, lang))


EXTRA: dict[str, Callable[[Alert, dict], bool]] = {
    "say.peers": lambda a, ev: isinstance(ev.get("percentile") or ev.get("peer_percentile"),
                                          int | float) and isinstance(ev.get("peers"), int),
    "say.occurrences": lambda a, ev: (ev.get("occurrence_count") or 0) > 1,
    "say.seized_lot": lambda a, ev: a.detector == "inventory_discrepancy"
    and bool(ev.get("seizures")),
    # an early-warning record that reached the system well after it happened (docs/ews.md)
    "say.ews_late_result": lambda a, ev: a.detector.startswith("ews_")
    and bool(ev.get("late_result")),
}


def headline(alert: Alert, lang: str = "es", hide_patients: bool = False) -> str:
    """Return an alert's one-line headline in ``lang`` (for lists such as the inbox)."""
    text = explain(alert, alert.evidence or {}, lang).headline
    if hide_patients:
        text = hide_patients_text(text)
    return text


# ---------------------------------------------------------------- early warning (ews_*)
#
# An early-warning alert's evidence names a substance, its class, the signal that raised it
# (its source kind and id, place and date) and, for clusters, districts: all in words here.

_MISMATCH = re.compile(r"name (?P<reported>.+?) is (?P<said>.+) but the structure is "
                       r"(?P<found>.+?) \((?P<key>[A-Z]{14}-[A-Z]{10}-[A-Z])\)")
_INCHIKEY = re.compile(r"[A-Z]{14}-[A-Z]{10}-[A-Z]")


def place(ubigeo: str | None) -> str:
    """A district by its INEI name ("Belén (Maynas, Loreto)"), else a department's, else —."""
    text = str(ubigeo or "")
    district = ubigeo_ref.get(text) if len(text) == 6 else None
    if district is not None:
        return f"{district.district} ({district.province}, {district.department})"
    return department_name(text[:2]) or text or "—"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def ews_substance(ev: dict[str, Any], lang: str) -> str:
    """The substance an early-warning alert is about, named in ``lang``: its registry name,
    else its class, formula and InChIKey block, else the reported name marked unconfirmed."""
    from centinela.ews.detect import _label
    from centinela.ews.models import Signal

    series = str(ev.get("series") or "")
    if series == "*overdose":
        return translate("evidence.ews_all_overdoses", lang)
    inchikey = ev.get("inchikey") or (series if _INCHIKEY.fullmatch(series) else None)
    name = ev.get("substance") if inchikey or not series.startswith("name:") else series[5:]
    sig = Signal(inchikey=inchikey, substance=name, payload={"category": ev.get("category")})
    return _label(sig, lang)


def _ews_record(rec: dict[str, Any], lang: str) -> str:
    """An earlier signal named in the evidence: its source, id, date and place."""
    return translate("evidence.ews_record", lang,
                     kind=label("ews.source.", rec.get("source_kind") or "—", lang),
                     source_id=rec.get("source_id") or "—",
                     date=format_date(str(rec.get("date") or "")[:10] or None, lang) or "—",
                     place=place(rec.get("ubigeo")))


def _registry_name(text: str, lang: str) -> str:
    from centinela.ews.registry import registry

    reg = registry()
    hit = reg.by_key_id.get(text) or reg.lookup_name(text)
    return hit.display_name(lang) if hit is not None else text


def _mismatch(text: str, lang: str) -> str:
    """The stored (English) name-structure disagreement in ``lang``."""
    m = _MISMATCH.fullmatch(text.strip())
    if m is None:
        return text
    reported = m["reported"].strip("'\"")
    said = re.sub(r" \([A-Z-]{27}\)$", "", m["said"])
    named = ", ".join(_registry_name(x.strip(), lang) for x in said.split(","))
    found = m["found"]
    return translate(
        "evidence.mismatch_text", lang,
        reported=(f"«{reported}»" if lang == "es" else f"'{reported}'")
        + ("" if named.lower() == reported.lower() else f" ({named})"),
        found=translate("evidence.unlisted_structure", lang) if found == "an unlisted structure"
        else _registry_name(found, lang))


def _ews_category(ev: dict[str, Any]) -> str | None:
    """The class the rule wrote, else the registry's for the substance (a tip of a registry
    name carries none); None for a series of every overdose."""
    if ev.get("category") or ev.get("series") == "*overdose":
        return ev.get("category")
    from centinela.ews.registry import registry

    reg = registry()
    hit = reg.by_inchikey(ev["inchikey"]) if ev.get("inchikey") else None
    if hit is None and ev.get("substance"):
        hit = reg.lookup_name(str(ev["substance"]))
    return hit.category if hit is not None else None


def _ews_value(key: str, value: Any, ev: dict[str, Any], lang: str) -> str | None:
    """An early-warning evidence value in words, or None when the generic formatting fits."""
    if key == "substance":
        return ews_substance(ev, lang)
    if key == "category":
        cat = _ews_category(ev)
        return label("ews.category.", cat, lang) if cat else "—"
    if key == "source_kind" and value:
        return label("ews.source.", value, lang)
    if key in ("ubigeo", "centre_ubigeo") and value:
        return place(value)
    if key == "ubigeos" and isinstance(value, list):
        return ", ".join(place(v) for v in value[:30]) + (
            f" (+{len(value) - 30})" if len(value) > 30 else "")
    if key == "date" and value:
        return format_date(str(value)[:10], lang)
    if key == "national_first" and isinstance(value, dict):
        return translate("evidence.ews_first_in", lang,
                         department=department_name(value.get("department"))
                         or value.get("department") or "—",
                         date=format_date(str(value.get("date") or "")[:10] or None, lang) or "—")
    if key == "earlier_unconfirmed" and isinstance(value, dict):
        return _ews_record(value, lang)
    if key == "recent_sources" and isinstance(value, dict):
        return "; ".join(f"{label('ews.source.', k, lang)}: {_n(n, lang)}"
                         for k, n in value.items()) or "—"
    if key == "mismatch" and isinstance(value, str):
        return _mismatch(value, lang)
    return None


def _ews_params(alert: Alert, ev: dict[str, Any], lang: str) -> dict[str, str]:
    """The values the early-warning sentences name (``say.ews_*``), formatted for ``lang``."""
    cat = _ews_category(ev)
    substance = ews_substance(ev, lang)
    cls = _lower_first(label("ews.category.", cat, lang)) if cat else ""
    first: dict[str, Any] = ev["national_first"] if isinstance(ev.get("national_first"),
                                                                dict) else {}
    subject = alert.subject_id if alert.subject_kind in ("lot", "serial") else ""
    return {
        "ews_substance": substance,
        # the class after the name, unless the name says it ("fentanilo (fentanilo)")
        "ews_class": f" ({cls})" if cls and cls.lower() != substance.lower() else "",
        "ews_source": label("ews.source.", ev.get("source_kind") or "—", lang),
        "ews_source_id": str(ev.get("source_id") or ev.get("seizure_id") or "—"),
        "ews_date": format_date(str(ev.get("date") or "")[:10] or None, lang)
        or format_date(alert.window_start, lang),
        "ews_place": place(ev.get("ubigeo") or ev.get("centre_ubigeo") or alert.ubigeo
                           or alert.department),
        "national_department": department_name(first.get("department"))
        or str(first.get("department") or "—"),
        "national_date": format_date(str(first.get("date") or "")[:10] or None, lang) or "—",
        "radius": _q(ev.get("radius_km"), "km", lang, 0),
        "window_days": _n(ev.get("window_days"), lang),
        "p_value": _fmt_value("p_value", ev.get("p_value"), "", lang),
        "ews_unit": translate("evidence.ews_" + alert.subject_kind, lang, id=subject)
        if subject else "",
        "ews_mismatch": _mismatch(str(ev.get("mismatch") or "—"), lang),
        "series_substance": substance,
        # a late result: when it happened and when it reached the system
        "ews_occurred_date": format_date(str(ev.get("occurred_date") or ev.get("date") or "")[:10]
                                         or None, lang) or "—",
        "ews_recorded_date": format_date(str(ev.get("recorded_date") or "")[:10] or None, lang)
        or "—",
        "days_late": _n(ev.get("days_late"), lang),
    }


class SourceRecord(BaseModel):
    """One signal behind an early-warning alert, in the reader's language."""

    kind: str  # seizure, lab, overdose, online, citizen
    kind_label: str
    source_id: str
    date: str
    place: str
    substance: str
    detail: str  # who reported it and how: agency, form, context; an overdose's setting, outcome
    sentence: str  # the record said in one sentence (what the alert's claim rests on)


def _signal_detail(sig: Signal, lang: str) -> str:
    p = sig.payload or {}
    if sig.source_kind == "overdose":
        parts = [label("ews.setting.", p["setting"], lang) if p.get("setting") else None,
                 label("ews.outcome.", p["outcome"], lang) if p.get("outcome") else None]
    elif sig.source_kind in ("seizure", "lab"):
        parts = [p.get("agency"), label("ews.form.", p["form"], lang) if p.get("form") else None,
                 label("ews.context.", p["context"], lang) if p.get("context") else None]
    else:  # online posts and citizen tips: their text stays on their own pages
        parts = []
    return ", ".join(str(x) for x in parts if x)


def source_records(signals: list[Signal], lang: str) -> list[SourceRecord]:
    """Return the signals behind an early-warning alert as records in ``lang`` (no patient data:
    signals are pseudonymous by construction, and only their place, date, substance and
    reporting institution are shown)."""
    from centinela.ews.detect import _label
    from centinela.lib.clock import lima_day

    out = []
    for sig in signals:
        kind = label("ews.source.", sig.source_kind, lang)
        kind = kind[:1].upper() + kind[1:]
        date = format_date(lima_day(sig.occurred_at).isoformat(), lang)
        where = place(sig.ubigeo or sig.department)
        substance = _label(sig, lang)
        detail = _signal_detail(sig, lang)
        out.append(SourceRecord(
            kind=sig.source_kind, kind_label=kind, source_id=sig.source_id, date=date,
            place=where, substance=substance, detail=detail,
            sentence=translate("alert.source_sentence", lang, kind=kind, source_id=sig.source_id,
                               date=date, place=where, substance=substance,
                               detail=f"; {detail}" if detail else "")))
    return out
