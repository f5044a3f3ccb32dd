"""An alert's evidence for people: a headline and plain sentences per detector, and labelled
values with units, in the reader's language (no raw keys, no English codes in Spanish).

Stored summaries are Spanish sentences written at detection time; the headline is rendered
again here from the evidence and a per-detector template, so the English interface reads
English. A detector without a template keeps its stored summary (Spanish) in Spanish and a
generic line in English.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from centinela.alerts.models import Alert
from centinela.web.codes import code
from centinela.web.fmt import (
    format_date,
    format_month,
    format_number,
    format_percent_value,
    format_quantity,
)
from centinela.web.i18n import catalogs, translate
from centinela.web.names import department_name, hide_patients_text

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
    "pattern_mme": "mme", "pattern_mg": "mg",
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
             "onset", "pattern_end"}
PERCENT_DETECTORS = ("waste_share", "disposal_share", "pharmacy_patient_mix")
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
        return "< 0.0001" if value < 1e-4 else format_number(value, lang, 4)
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
    for key, value in evidence.items():
        if key in HIDDEN:
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
    if alert.detector == "serial_reuse" and alert.subject_kind == "professional":
        return "serial_reuse.professional"
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
    for extra in ("say.peers", "say.occurrences", "say.seized_lot"):
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
}


def headline(alert: Alert, lang: str = "es", hide_patients: bool = False) -> str:
    """Return an alert's one-line headline in ``lang`` (for lists such as the inbox)."""
    text = explain(alert, alert.evidence or {}, lang).headline
    if hide_patients:
        text = hide_patients_text(text)
    return text
