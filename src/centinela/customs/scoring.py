"""Transparent manifest scoring: named factors, each with its value, weight and contribution.

``logit = intercept + Σ weight_i · x_i`` and the score is its logistic. The weights start as
expert values (``DEFAULT_WEIGHTS``, written down here with their reasons) and can be refit from
officers' outcomes (``fit``); either way every factor of every parcel is shown to the officer.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centinela.customs import reference as ref

FACTORS = (
    "origin", "route", "hs_code", "content_keyword", "vague_content", "weight_vs_content",
    "value_vs_content", "density_vs_content", "known_sender", "known_consignee",
    "known_address", "lead_or_report_phone", "district_signals", "new_consignee_repeat",
    "shared_contact", "hs_vs_content",
)
# Expert starting weights (log-odds per unit of the factor's value).
DEFAULT_WEIGHTS = {
    "origin": 1.0, "route": 0.8, "hs_code": 1.3, "content_keyword": 1.2, "vague_content": 0.9,
    "weight_vs_content": 0.8, "value_vs_content": 0.6, "density_vs_content": 0.6,
    "known_sender": 3.0, "known_consignee": 2.5, "known_address": 2.0,
    "lead_or_report_phone": 2.5, "district_signals": 0.3, "new_consignee_repeat": 1.2,
    "shared_contact": 1.2, "hs_vs_content": 1.0,
}
DEFAULT_INTERCEPT = -6.0
LABELS = {
    "origin": ("Origen", "Origin"), "route": ("Ruta de tránsito", "Transit route"),
    "hs_code": ("Partida arancelaria (precursores)", "HS code (precursors)"),
    "content_keyword": ("Contenido declarado nombra un precursor", "Declared content names a precursor"),
    "vague_content": ("Declaración vaga", "Vague declaration"),
    "weight_vs_content": ("Peso inusual para el contenido", "Weight unusual for the content"),
    "value_vs_content": ("Valor bajo para el peso y contenido", "Value low for weight and content"),
    "density_vs_content": ("Densidad inusual para el contenido", "Density unusual for the content"),
    "known_sender": ("Remitente con decomiso previo", "Sender with a previous seizure"),
    "known_consignee": ("Destinatario con decomiso previo", "Consignee with a previous seizure"),
    "known_address": ("Dirección con decomiso previo", "Address with a previous seizure"),
    "lead_or_report_phone": ("Teléfono en lead en línea o denuncia", "Phone in an online lead or citizen report"),
    "district_signals": ("Señales de fentanilo en el distrito", "Fentanyl signals in the district"),
    "new_consignee_repeat": ("Destinatario nuevo con paquetes pequeños repetidos", "New consignee, repeated small parcels"),
    "shared_contact": ("Varios destinatarios con el mismo teléfono o dirección",
                       "Several consignees share one phone or address"),
    "hs_vs_content": ("Partida arancelaria no corresponde al contenido",
                      "HS code does not match the declared content"),
}
SMALL_KG = 1.0
WINDOW_DAYS = 30


@dataclass
class Watchlist:
    """Keys known from Centinela's own records (seizures, online leads, citizen reports)."""

    senders: set[str] = field(default_factory=set)
    consignees: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # phones of seized parcels
    lead_phones: dict[str, str] = field(default_factory=dict)  # phone key → where it was seen
    district_signals: dict[str, int] = field(default_factory=dict)  # ubigeo → fentanyl signals


def _log_excess(value: float, lo: float, hi: float) -> float:
    """Return how far (in natural-log units, capped at 3) ``value`` lies outside [lo, hi]."""
    if value <= 0:
        return 3.0
    if value < lo:
        return min(math.log(lo / value), 3.0)
    if value > hi:
        return min(math.log(value / hi), 3.0)
    return 0.0


def _history(parcels: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Return (new-consignee repeat, shared phone/address) values from the parcels' timeline.

    "New" needs history: a consignee first seen in the first ``WINDOW_DAYS`` of the data may
    simply predate it, so it is never called new.
    """
    n = len(parcels)
    repeat, shared = np.zeros(n), np.zeros(n)
    if not n:
        return repeat, shared
    window = dt.timedelta(days=WINDOW_DAYS)
    data_start = min(p["arrived_at"] for p in parcels)
    by_consignee: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parcels):
        by_consignee[p["consignee_key"]].append(i)
    for idx in by_consignee.values():
        idx.sort(key=lambda i: parcels[i]["arrived_at"])
        first = parcels[idx[0]]["arrived_at"]
        if first - data_start < window:
            continue
        small = [i for i in idx if parcels[i]["weight_kg"] < SMALL_KG]
        lo = 0
        for pos, i in enumerate(small):
            t = parcels[i]["arrived_at"]
            while parcels[small[lo]]["arrived_at"] < t - window:
                lo += 1
            count = pos - lo + 1
            if count >= 3 and t - first <= window:
                repeat[i] = min(math.log2(count - 1), 3.0)
    # One phone or address behind several consignee names: a mule or drop pattern.
    for field_name in ("consignee_phone_key", "consignee_address_key"):
        groups: dict[str, set[str]] = defaultdict(set)
        for p in parcels:
            if p.get(field_name):
                groups[p[field_name]].add(p["consignee_key"])
        for i, p in enumerate(parcels):
            k = p.get(field_name)
            if k and len(groups[k]) >= 2:
                shared[i] = max(shared[i], min(math.log2(len(groups[k])), 3.0))
    return repeat, shared


def features(parcels: list[dict], watch: Watchlist | None = None) -> np.ndarray:
    """Return the (n, len(FACTORS)) factor values of ``parcels`` (dicts of Parcel columns)."""
    watch = watch or Watchlist()
    x = np.zeros((len(parcels), len(FACTORS)))
    col = {f: i for i, f in enumerate(FACTORS)}
    for i, p in enumerate(parcels):
        row = x[i]
        row[col["origin"]] = ref.origin_weight(p["origin_country"])[0]
        row[col["route"]] = ref.transit_weight(p.get("transit") or [])[0]
        row[col["hs_code"]] = ref.hs_risk(p.get("hs_code"))[0]
        content = p["declared_content"]
        row[col["content_keyword"]] = ref.keyword_risk(content)[0]
        row[col["vague_content"]] = 1.0 if ref.is_vague(content) else 0.0
        kg, usd = p["weight_kg"], p["declared_value_usd"]
        cat = ref.category(content)
        if cat is not None:
            row[col["weight_vs_content"]] = _log_excess(kg, *cat["kg"])
            per_kg = usd / kg
            row[col["value_vs_content"]] = min(math.log(cat["usd_per_kg"][0] / per_kg), 3.0) \
                if 0 < per_kg < cat["usd_per_kg"][0] else (3.0 if per_kg <= 0 else 0.0)
            if p.get("length_cm") and p.get("width_cm") and p.get("height_cm"):
                # Packaging only makes a parcel lighter per litre: flag the too dense only.
                litres = p["length_cm"] * p["width_cm"] * p["height_cm"] / 1000.0
                row[col["density_vs_content"]] = _log_excess(kg / litres, 0.0, cat["density"][1])
            hs = p.get("hs_code")
            if hs and cat.get("hs_chapters") and hs[:2] not in cat["hs_chapters"]:
                row[col["hs_vs_content"]] = 1.0
        elif usd <= 1.0:
            row[col["value_vs_content"]] = 1.5  # nothing declared of value
        row[col["known_sender"]] = float(p["sender_key"] in watch.senders or (
            p.get("sender_phone_key") is not None and p["sender_phone_key"] in watch.phones))
        row[col["known_consignee"]] = float(p["consignee_key"] in watch.consignees or (
            p.get("consignee_phone_key") is not None and p["consignee_phone_key"] in watch.phones))
        row[col["known_address"]] = float(p.get("consignee_address_key") in watch.addresses) \
            if p.get("consignee_address_key") else 0.0
        row[col["lead_or_report_phone"]] = float(any(
            k is not None and k in watch.lead_phones
            for k in (p.get("consignee_phone_key"), p.get("sender_phone_key"))))
        row[col["district_signals"]] = min(math.log1p(watch.district_signals.get(p["ubigeo"], 0)),
                                           3.0)
    repeat, shared = _history(parcels)
    x[:, col["new_consignee_repeat"]] = repeat
    x[:, col["shared_contact"]] = shared
    return x


@dataclass
class ManifestModel:
    weights: dict[str, float]
    intercept: float
    source: str = "expert"  # or "fit:<n outcomes>"

    @classmethod
    def default(cls) -> ManifestModel:
        return cls(dict(DEFAULT_WEIGHTS), DEFAULT_INTERCEPT, "expert")

    @classmethod
    def load(cls, path: Path | None) -> ManifestModel:
        """Return the model saved at ``path`` (by ``fit``), or the expert default."""
        if path is None or not path.is_file():
            return cls.default()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({**DEFAULT_WEIGHTS, **data["weights"]}, data["intercept"], data["source"])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"weights": self.weights, "intercept": self.intercept,
                                    "source": self.source}, indent=2) + "\n", encoding="utf-8")

    @property
    def vector(self) -> np.ndarray:
        return np.array([self.weights[f] for f in FACTORS])

    def score(self, x: np.ndarray) -> np.ndarray:
        """Return the probability-like manifest score of each row."""
        z = self.intercept + x @ self.vector
        return 1.0 / (1.0 + np.exp(-z))

    def explain(self, row: np.ndarray, parcel: dict | None = None) -> list[dict]:
        """Return the non-zero factors of one parcel, largest contribution first."""
        out = []
        vec = self.vector
        for j in np.flatnonzero(row):
            f, v, w = FACTORS[j], row[j], vec[j]
            item = {"factor": f, "label_es": LABELS[f][0], "label_en": LABELS[f][1],
                    "value": round(float(v), 3), "weight": round(float(w), 3),
                    "contribution": round(float(v * w), 3)}
            detail = _detail(f, parcel) if parcel else None
            if detail:
                item["detail"] = detail
                item["detail_es"] = _detail(f, parcel, es=True)
            out.append(item)
        out.sort(key=lambda d: -abs(d["contribution"]))
        return out


def _detail(factor: str, p: dict, es: bool = False) -> str | None:
    """The factor's reason in words: English, or Spanish with ``es`` (the page reads either)."""
    say = ref.spanish if es else (lambda text: text)
    if factor == "origin":
        return f"{p['origin_country']}: {say(ref.origin_weight(p['origin_country'])[1])}"
    if factor == "route":
        return say(ref.transit_weight(p.get("transit") or [])[1])
    if factor == "hs_vs_content":
        cat = ref.category(p["declared_content"])
        name = say(cat["name"]) if cat else "?"
        chapters = ", ".join(cat["hs_chapters"]) if cat else "?"
        return (f"SA {p.get('hs_code')} frente a {name} (capítulos {chapters})" if es else
                f"HS {p.get('hs_code')} vs {name} (chapters {chapters})")
    if factor == "hs_code":
        return f"{p.get('hs_code')}: {say(ref.hs_risk(p.get('hs_code'))[1])}"
    if factor == "content_keyword":
        return say(ref.keyword_risk(p["declared_content"])[1])
    if factor in ("weight_vs_content", "value_vs_content", "density_vs_content"):
        cat = ref.category(p["declared_content"])
        name = say(cat["name"]) if cat else "?"
        head = f"{name}: {p['weight_kg']:g} kg, US$ {p['declared_value_usd']:g}"
        if not cat:
            return head
        lo, hi, usd = cat["kg"][0], cat["kg"][1], cat["usd_per_kg"][0]
        return head + (f", lo usual {lo}-{hi} kg, ≥ US$ {usd}/kg" if es else
                       f", expected {lo}-{hi} kg, ≥ US$ {usd}/kg")
    return None


def fit(x: np.ndarray, y: np.ndarray, min_positive: int = 10) -> ManifestModel:
    """Refit the weights from outcomes (1 = seized) with an L2 logistic regression.

    Only parcels an officer decided are labelled, and those were chosen by the score: the fit is
    biased toward what was already inspected. With fewer than ``min_positive`` seizures the
    expert weights are kept.
    """
    from sklearn.linear_model import LogisticRegression

    if int(y.sum()) < min_positive or int((1 - y).sum()) < min_positive:
        return ManifestModel.default()
    lr = LogisticRegression(C=1.0, max_iter=500)
    lr.fit(x, y)
    weights = {f: float(w) for f, w in zip(FACTORS, lr.coef_[0], strict=True)}
    # Outcomes are sampled far above the base rate: shift the intercept back to it.
    prior = float(y.mean())
    intercept = float(lr.intercept_[0]) + math.log(0.005 / 0.995) - math.log(prior / (1 - prior))
    return ManifestModel(weights, intercept, f"fit:{len(y)}")
