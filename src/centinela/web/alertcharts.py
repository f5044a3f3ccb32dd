"""One chart per detector family showing what the alert claims, read from evidence + ledger.

The quantity that triggered the alert is drawn over the alert's window and enough history
(12 months, or the window's days), with the threshold or peers' band it was compared with,
the window shaded and periods the data does not yet cover completely marked as partial (a
running month is never drawn as a crash).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.ledger.mme import FENTANYL_FAMILY, mme_per_unit
from centinela.ledger.records import Movement
from centinela.registry.models import Establishment, Product
from centinela.web.chartspec import (
    Band,
    ChartPoint,
    ChartSeries,
    ChartSpec,
    CompareBar,
    Marker,
    RefLine,
)
from centinela.web.evidence import code as code_text
from centinela.web.fmt import unit_label
from centinela.web.i18n import translate
from centinela.web.views.common import OUTFLOWS, cached, month_labels, month_of, products

FAMILIES = {
    "suspicious_order": "orders", "purchases_outgrow_use": "orders",
    "prescriber_volume": "prescriber", "coprescribing_prescriber": "psychotropics",
    "pharmacy_patient_mix": "prescriber",
    "opioid_benzodiazepine_overlap": "psychotropics",
    "high_mme": "patient", "dispense_high_mme": "patient", "multiple_providers": "patient",
    "overlapping_prescriptions": "patient",
    "loss_report": "loss", "repeated_loss": "loss", "waste_share": "loss", "disposal_share": "loss",
    "waste_unwitnessed": "loss", "inventory_discrepancy": "loss", "balance_gap": "records",
    "serial_reuse": "custody", "unauthorized_receiver": "custody",
    "transfer_not_received": "custody", "seizure_trace": "custody",
    "regional_surge": "regional", "regional_outlier": "regional", "ews_aberration": "regional",
    "citizen_report": "regional",
    "uncertified_handler": "records", "prescription_form_misuse": "records",
    "dispense_without_prescription": "records", "prescriber_scope": "records",
    "late_administration": "records", "early_refills": "records", "unrecorded_supply": "loss",
    "whole_unit_administrations": "loss",
}


def family(detector: str) -> str:
    """Return the chart family of a detector ("other" when unknown)."""
    return FAMILIES.get(detector, "other")


class _Ctx:
    """What every builder needs: the alert, its evidence, the language and the ledger."""

    def __init__(self, session: Session, alert: Alert, evidence: dict, lang: str):
        self.session, self.alert, self.ev, self.lang = session, alert, evidence, lang
        self.prods = products(session)
        self.data_start, self.data_end = _data_span(session)

    def t(self, key: str, **params) -> str:
        return translate("chart." + key, self.lang, **params)

    def unit(self, code: str) -> str:
        return unit_label(code, self.lang)

    def months(self, history: int = 12) -> list[str]:
        """Months from ``history`` before the window start to the ledger's end (24 at most)."""
        start, end = self.alert.window_start, self.data_end
        if _span(start, end) + history - 1 > 24:
            # An old window: the year before it and up to six months after it.
            after = _add_months(min(self.alert.window_end, end), 6)
            end = min(after, end)
        labels = month_labels(end, min(max(_span(start, end), 1) + history - 1, 24))
        kept = [m for m in labels if not self.before_data(m)]
        return kept or labels[-1:]

    def window_months(self) -> tuple[str, str]:
        a = self.alert
        end = min(a.window_end, self.data_end)
        return _lima(a.window_start).strftime("%Y-%m"), _lima(end).strftime("%Y-%m")

    def partial_month(self, label: str) -> bool:
        """A month is partial when the ledger starts after its first day or ends before its
        last (a running month is not a crash, a first half-month is not growth)."""
        nxt = _next_month(label)
        first = dt.datetime.fromisoformat(label + "-01")
        return self.data_end < nxt - dt.timedelta(hours=1) or \
            self.data_start > first + dt.timedelta(hours=6)

    def before_data(self, label: str) -> bool:
        """True for a month wholly before the ledger's first movement (nothing to show)."""
        return _next_month(label) <= self.data_start

    def spec(self, key: str, title: str, unit: str, **kw) -> ChartSpec:
        return ChartSpec(key=key, lang=self.lang, title=title, unit_label=unit,
                         partial_note=" (" + self.t("partial") + ")",
                         window_label=self.t("window"), **kw)


def _lima(t: dt.datetime) -> dt.datetime:
    """Naive UTC → naive Lima time (UTC−5 all year: Peru keeps no daylight saving)."""
    return t - dt.timedelta(hours=5)


def _span(a: dt.datetime, b: dt.datetime) -> int:
    """Return how many calendar months ``a`` … ``b`` touch."""
    return (b.year - a.year) * 12 + b.month - a.month + 1


def _add_months(t: dt.datetime, k: int) -> dt.datetime:
    m = t.year * 12 + t.month - 1 + k
    return dt.datetime(m // 12, m % 12 + 1, 1)


def _next_month(label: str) -> dt.datetime:
    y, m = int(label[:4]), int(label[5:7])
    return dt.datetime(y + (m == 12), m % 12 + 1, 1)


def _data_span(session: Session) -> tuple[dt.datetime, dt.datetime]:
    """Return the first and last movement times of the ledger (cached).

    A handful of movements dated months after everything else (a clock or a date format gone
    wrong: "2027-12-16" in a 2026 ledger) do not stretch every chart's axis: a last month that
    stands two or more empty months after the rest, holding fewer than three movements or 5 % of
    a median month, is left out of the span (the movements stay in the ledger and in detection)."""
    def compute():
        lo, hi = session.execute(select(func.min(Movement.occurred_at),
                                        func.max(Movement.occurred_at))).one()
        lo, hi = lo or dt.datetime(2000, 1, 1), hi or dt.datetime(2000, 1, 1)
        month = month_of(session, Movement.occurred_at)
        counts = sorted((str(m), int(n)) for m, n in session.execute(
            select(month, func.count()).group_by(month)) if m)
        if len(counts) >= 3:
            median = sorted(n for _m, n in counts)[len(counts) // 2]

            def index(m: str) -> int:
                return int(m[:4]) * 12 + int(m[5:7])

            while (len(counts) >= 3 and counts[-1][1] < max(0.05 * median, 3)
                   and index(counts[-1][0]) - index(counts[-2][0]) >= 3):
                counts.pop()
            last = counts[-1][0]
            y, mo = int(last[:4]), int(last[5:7])
            cut = dt.datetime(y + mo // 12, mo % 12 + 1, 1)
            if cut <= hi:
                hi = session.scalar(select(func.max(Movement.occurred_at))
                                    .where(Movement.occurred_at < cut)) or hi
        return lo, hi
    return cached(session, ("alertchart-data-span",), compute)


def _measure(qty: float, count: int, p: Product | None, measure: str) -> float:
    if measure == "count":
        return float(count)
    if p is None:
        return 0.0
    if measure == "mg":
        return float(qty or 0) * (p.strength_mg_per_unit or 0)
    if measure == "mme":
        return float(qty or 0) * mme_per_unit(p)
    return float(qty or 0)


def monthly(c: _Ctx, where: list, labels: list[str], measure: str,
            keep: Callable[[Product | None], bool] | None = None,
            join_est: bool = False) -> list[ChartPoint]:
    """Return one point per month of ``measure`` (mg, mme, units, count) of matching movements."""
    month = month_of(c.session, Movement.occurred_at)
    stmt = select(month, Movement.product_code, func.sum(Movement.quantity), func.count())
    if join_est:
        stmt = stmt.join(Establishment, Establishment.establishment_id == Movement.establishment_id)
    stmt = (stmt.where(*where, Movement.occurred_at >= dt.datetime.fromisoformat(labels[0] + "-01"),
                       Movement.occurred_at < _next_month(labels[-1]))
            .group_by(month, Movement.product_code))
    sums = dict.fromkeys(labels, 0.0)
    for mon, code, qty, n in c.session.execute(stmt):
        p = c.prods.get(code)
        if mon in sums and (keep is None or keep(p)):
            sums[mon] += _measure(qty, n, p, measure)
    return [ChartPoint(key=m, value=None if c.before_data(m) else round(v, 2),
                       partial=c.partial_month(m)) for m, v in sums.items()]


def _is(substance: str | None) -> Callable[[Product | None], bool]:
    sub = (substance or "").lower()
    return lambda p: p is not None and (not sub or (p.substance or "").lower() == sub)


def _fentanyl(p: Product | None) -> bool:
    return p is not None and (p.substance or "").lower() in FENTANYL_FAMILY


def _num(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _range(ev: dict, key: str = "peer_range") -> tuple[float, float] | None:
    r = ev.get(key)
    if isinstance(r, list) and len(r) == 2 and all(_num(v) is not None for v in r):
        return float(r[0]), float(r[1])
    return None


# ---------------------------------------------------------------- builders per family

def _orders(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    labels = c.months()
    sub = ev.get("substance")
    est = [Movement.establishment_id == a.subject_id]
    received = monthly(c, [*est, Movement.event_type == "receipt"], labels, "mg", _is(sub))
    used = monthly(c, [*est, Movement.event_type.in_((*OUTFLOWS, "transfer_out", "export"))],
                   labels, "mg", _is(sub))
    subst = code_text(sub, c.lang) if sub else c.t("controlled")
    spec = c.spec("orders", c.t("orders.title", substance=subst), c.t("unit.mg_month", substance=subst),
                  x_label=c.t("month"), keys=labels, window=c.window_months(),
                  series=[ChartSeries(name=c.t("received"), points=received),
                          ChartSeries(name=c.t("used"), mark="line", points=used)])
    if a.detector == "suspicious_order":
        if _num(ev.get("expected")) is not None:
            spec.refs.append(RefLine(value=float(ev["expected"]), label=c.t("mean12")))
        rng = _range(ev)
        if rng:
            spec.band = Band(low=rng[0], high=rng[1], label=c.t("peer_range"))
        return [spec]
    out = [spec]
    if _num(ev.get("observed")) is not None:
        out.append(_compare(c, "orders-ratio", c.t("ratio.title"), c.t("unit.ratio"), "",
                            float(ev["observed"]), _num(ev.get("expected")), _range(ev)))
    return out


def _compare(c: _Ctx, key: str, title: str, unit: str, short: str, observed: float,
             expected: float | None, rng: tuple[float, float] | None,
             expected_label: str | None = None) -> ChartSpec:
    bars = [CompareBar(label=c.t("subject"), value=observed, role="subject")]
    if expected is not None:
        bars.append(CompareBar(label=expected_label or c.t("expected"), value=expected,
                               role="expected"))
    spec = c.spec(key, title, unit, kind="compare", unit_short=short, bars=bars)
    if rng:
        spec.band = Band(low=rng[0], high=rng[1], label=c.t("peer_range"))
    return spec


def _prescriber(c: _Ctx) -> list[ChartSpec]:
    from centinela.web.views.subjects import chart_for

    a, ev = c.alert, c.ev
    if a.detector == "pharmacy_patient_mix":
        return _patient_mix(c)
    out = []
    if _num(ev.get("observed")) is not None:
        per_patient = ev.get("criterion") == "intensity" or ev.get("metric") == "MME per patient"
        title = c.t("prescriber.per_patient" if per_patient else "prescriber.total")
        out.append(_compare(c, "prescriber-peers", title, c.t("unit.mme_90"), "MME",
                            float(ev["observed"]), _num(ev.get("expected")), _range(ev),
                            c.t("peer_median")))
    base = chart_for(c.session, a.subject_kind, a.subject_id, min(a.window_end, c.data_end))
    labels = [p.label for p in base.subject.points if not c.before_data(p.label)] \
        or [base.subject.points[-1].label]
    spec = c.spec("prescriber-monthly", c.t("prescriber.monthly"), c.t("unit.mme_month"),
                  x_label=c.t("month"), keys=labels, window=c.window_months(),
                  series=[ChartSeries(name=c.t("subject_mme"), points=[
                      ChartPoint(key=p.label, value=p.value, partial=c.partial_month(p.label))
                      for p in base.subject.points if p.label in labels])])
    if base.peers is not None:
        spec.series.append(ChartSeries(name=c.t("peer_median_n", n=base.extra.get("peers", 0)),
                                       mark="line", dashed=True, points=[
            ChartPoint(key=p.label, value=p.value, partial=c.partial_month(p.label))
            for p in base.peers.points if p.label in labels]))
    out.append(spec)
    return out


def _patient_mix(c: _Ctx) -> list[ChartSpec]:
    """A pharmacy's one-off chronic-strength fills against its peers, and its red flags."""
    ev = c.ev
    out = []
    if _num(ev.get("observed")) is not None:
        rng = _range(ev)
        out.append(_compare(c, "mix-share", c.t("mix.title"), c.t("unit.pct_fills"), "%",
                            round(float(ev["observed"]) * 100, 1),
                            round(float(ev.get("expected") or 0) * 100, 1),
                            (rng[0] * 100, rng[1] * 100) if rng else None, c.t("peer_median")))
    bars = [CompareBar(label=c.t(f"mix.{k}"), value=round(float(ev[k]) * 100, 1))
            for k in ("top_prescriber_share", "prescriber_away_share", "patient_away_share",
                      "uniform_share") if _num(ev.get(k)) is not None]
    if bars:
        spec = c.spec("mix-flags", c.t("mix.flags"), c.t("unit.pct_one_off"), kind="compare",
                      unit_short="%", bars=bars)
        spec.refs = [RefLine(value=50.0, label=c.t("mix.flag_line"))]
        out.append(spec)
    return out


def _patient_daily(c: _Ctx, benzodiazepines: bool = False) -> list[ChartPoint]:
    """Daily MME of the patient's dispenses spread over the days each covers (or, with
    ``benzodiazepines``, the daily diazepam-equivalent mg of their benzodiazepines)."""
    from centinela.ledger.mme import daily_mme, days_covered, unit_of
    from centinela.reference.substances import diazepam_mg, substance_class

    a = c.alert
    start = a.window_start - dt.timedelta(days=30)
    end = min(a.window_end, c.data_end) + dt.timedelta(days=1)
    rows = c.session.execute(select(Movement.occurred_at, Movement.product_code,
                                    Movement.quantity, Movement.days_supply).where(
        Movement.patient_id == a.subject_id, Movement.event_type.in_(OUTFLOWS),
        Movement.occurred_at >= start - dt.timedelta(days=90), Movement.occurred_at <= end)).all()
    first = _lima(start).date()
    n = (_lima(end).date() - first).days + 1
    vals = [0.0] * n
    for at, code, qty, supply in rows:
        p = c.prods.get(code)
        if p is None:
            continue
        if benzodiazepines:
            if substance_class(p.substance) != "benzodiazepine":
                continue
            cover = max(int(supply or 1), 1)
            per_day = diazepam_mg(p.substance, (qty or 0) * (p.strength_mg_per_unit or 0)) / cover
        else:
            u = unit_of(p)
            per_day = daily_mme(u, qty or 0, supply)
            cover = max(int(round(days_covered(u, qty or 0, supply))), 1)
        d0 = (_lima(at).date() - first).days
        for d in range(max(d0, 0), min(d0 + cover, n)):
            vals[d] += per_day
    return [ChartPoint(key=(first + dt.timedelta(days=i)).isoformat(), value=round(v, 1))
            for i, v in enumerate(vals)]


def _patient(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    pts = _patient_daily(c)
    keys = [p.key for p in pts]
    w0 = _lima(a.window_start).date().isoformat()
    w1 = _lima(min(a.window_end, c.data_end)).date().isoformat()
    spec = c.spec("patient-daily", c.t("patient.title"), c.t("unit.mme_day"), period="day",
                  x_label=c.t("day"), keys=keys,
                  window=(max(w0, keys[0]), min(w1, keys[-1])) if keys else None,
                  series=[ChartSeries(name=c.t("patient.daily"), mark="line", points=pts,
                                      color="#b3261e")],
                  refs=[RefLine(value=50, label=c.t("mme50"), color="#7a5c00"),
                        RefLine(value=90, label=c.t("mme90"))])
    out = [spec]
    if a.detector == "multiple_providers" and isinstance(ev.get("observed"), dict):
        obs = ev["observed"]
        out.append(c.spec("patient-providers", c.t("providers.title"), c.t("unit.count"),
                          kind="compare", bars=[
            CompareBar(label=c.t("prescribers"), value=float(obs.get("prescribers", 0))),
            CompareBar(label=c.t("pharmacies"), value=float(obs.get("pharmacies", 0))),
            CompareBar(label=c.t("limit"), value=5.0, role="expected")]))
    if a.detector == "overlapping_prescriptions" and _num(ev.get("observed")) is not None:
        out.append(c.spec("patient-overlap", c.t("overlap.title"), c.t("unit.days"),
                          kind="compare", unit_short=c.unit("days"), bars=[
            CompareBar(label=c.t("overlap_days"), value=float(ev["observed"])),
            CompareBar(label=c.t("limit30"), value=30.0, role="expected")]))
    return out


def _psychotropics(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    if a.subject_kind == "patient":
        specs = _patient(c)
        benzo = _patient_daily(c, benzodiazepines=True)
        if any(p.value for p in benzo):
            keys = [p.key for p in benzo]
            specs.append(c.spec("patient-benzo", c.t("benzo.title"), c.t("unit.diazepam_day"),
                                period="day", x_label=c.t("day"), keys=keys,
                                window=specs[0].window,
                                series=[ChartSeries(name=c.t("benzo.daily"), mark="line",
                                                    points=benzo, color="#1f6f8b")]))
        return specs
    out = []
    if _num(ev.get("rate")) is not None:
        out.append(c.spec("coprescribing", c.t("coprescribing.title"), c.t("unit.pct"),
                          kind="compare", unit_short="%", bars=[
            CompareBar(label=c.t("subject"), value=round(float(ev["rate"]) * 100, 1)),
            CompareBar(label=c.t("peer_rate"), value=round(float(ev.get("peer_rate") or 0) * 100, 1),
                       role="expected")]))
    return out + _prescriber(c)[-1:]


def _loss(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    labels = c.months()
    if a.detector in ("loss_report", "repeated_loss"):
        measure = "count" if a.detector == "repeated_loss" else "units"
        where = [Movement.establishment_id == a.subject_id, Movement.event_type == "loss"]
        pts = monthly(c, where, labels, measure)
        unit = c.t("unit.loss_events") if measure == "count" else c.t("unit.units_lost")
        spec = c.spec("loss", c.t("loss.title"), unit, x_label=c.t("month"), keys=labels,
                      window=c.window_months(),
                      series=[ChartSeries(name=c.t("losses"), points=pts)])
        if a.detector == "loss_report":
            spec.refs = [RefLine(value=5, label=c.t("loss.medium"), color="#7a5c00"),
                         RefLine(value=20, label=c.t("loss.high"))]
        return [spec]
    if a.detector == "waste_share" and _num(ev.get("observed")) is not None:
        rng = _range(ev)
        return [_compare(c, "waste-share", c.t("waste.title"), c.t("unit.pct_wasted"), "%",
                         round(float(ev["observed"]) * 100, 1),
                         round(float(ev.get("expected") or 0) * 100, 1),
                         (rng[0] * 100, rng[1] * 100) if rng else None, c.t("peer_median"))]
    if a.detector == "whole_unit_administrations" and _num(ev.get("observed")) is not None:
        return [_compare(c, "whole-units", c.t("whole.title"), c.t("unit.pct_administrations"), "%",
                         round(float(ev["observed"]) * 100, 1),
                         round(float(ev.get("expected") or 0) * 100, 1), None,
                         c.t("peer_median"))]
    if a.detector == "disposal_share" and _num(ev.get("observed")) is not None:
        rng = _range(ev)
        return [_compare(c, "disposal-share", c.t("disposal.title"), c.t("unit.pct_written_off"),
                         "%", round(float(ev["observed"]) * 100, 1),
                         round(float(ev.get("expected") or 0) * 100, 1),
                         (rng[0] * 100, rng[1] * 100) if rng else None, c.t("peer_median"))]
    if a.detector == "waste_unwitnessed" and _num(ev.get("observed")) is not None:
        return [_compare(c, "waste-unwitnessed", c.t("unwitnessed.title"),
                         c.t("unit.waste_events"), "", float(ev["observed"]),
                         _num(ev.get("expected")), None)]
    if a.detector == "unrecorded_supply" and _num(ev.get("units_out")) is not None:
        # What left the shelf against what came in (receipts, transfers in, counts' rises).
        return [c.spec("supply", c.t("supply.title"), c.t("unit.units"), kind="compare",
                       unit_short=c.unit("units"), bars=[
            CompareBar(label=c.t("used_units"), value=float(ev["units_out"])),
            CompareBar(label=c.t("received_units"), value=float(ev.get("units_in") or 0),
                       role="expected")])]
    if _num(ev.get("missing_units")) is not None:
        where = [Movement.establishment_id == a.subject_id]
        pts = monthly(c, [*where, Movement.event_type.in_(OUTFLOWS)], labels, "units")
        spec = c.spec("inventory", c.t("inventory.title"), c.t("unit.units_month"),
                      x_label=c.t("month"), keys=labels, window=c.window_months(),
                      series=[ChartSeries(name=c.t("used_units"), points=pts)])
        return [_compare(c, "inventory-gap", c.t("inventory.gap"), c.t("unit.units"),
                         c.unit("units"), float(ev["missing_units"]), 0.0, None), spec]
    return []


def _custody(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    if a.detector == "seizure_trace" and isinstance(ev.get("custodians"), list):
        bars = [CompareBar(label=str(x.get("establishment_id")),
                           value=float(x.get("units_on_books") or 0),
                           role="subject" if x.get("establishment_id") == ev.get("last_custodian")
                           else "peer") for x in ev["custodians"][:8]]
        return [c.spec("custodians", c.t("custodians.title"), c.t("unit.units_lot"),
                       kind="compare", unit_short=c.unit("units"), bars=bars)]
    if a.detector == "transfer_not_received" and ev.get("reason") == "receiver_silent":
        shipped = float(ev.get("units_shipped") or 0)
        return [c.spec("silent", c.t("silent.title"), c.t("unit.units"), kind="compare",
                       unit_short=c.unit("units"), bars=[
            CompareBar(label=c.t("shipped"), value=shipped, role="expected"),
            CompareBar(label=c.t("silent.confirmed"),
                       value=max(shipped - float(ev.get("units_unconfirmed") or 0), 0.0))])]
    if a.detector == "transfer_not_received" and (a.subject_kind == "shipment"
                                                   or ev.get("reason") == "receiver_many"):
        return [c.spec("transfer", c.t("transfer.title"), c.t("unit.units"), kind="compare",
                       unit_short=c.unit("units"), bars=[
            CompareBar(label=c.t("shipped"), value=float(ev.get("units_shipped") or 0),
                       role="expected"),
            CompareBar(label=c.t("received_units"), value=float(ev.get("units_received") or 0))])]
    if a.detector == "serial_reuse" and a.subject_kind == "professional":
        return _records(c)  # one professional behind many serials: what she handled
    if a.detector == "serial_reuse":
        return [c.spec("serial", c.t("serial.title"), c.t("unit.units"), kind="compare",
                       unit_short=c.unit("units"), bars=[
            CompareBar(label=c.t("consumed"), value=float(ev.get("units_consumed") or 0)),
            CompareBar(label=c.t("serial.one"), value=1.0, role="expected")])]
    labels = c.months()
    pts = monthly(c, [Movement.establishment_id == a.subject_id,
                      Movement.event_type == "receipt"], labels, "units")
    spec = c.spec("received", c.t("receiver.title"), c.t("unit.units_month"),
                  x_label=c.t("month"), keys=labels, window=c.window_months(),
                  series=[ChartSeries(name=c.t("received_units"), points=pts)])
    return [spec]


def _regional(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    if a.detector == "ews_aberration" and isinstance(ev.get("last_28_days"), list):
        start = dt.date.fromisoformat(ev.get("series_start") or a.window_end.date().isoformat())
        pts = [ChartPoint(key=(start + dt.timedelta(days=i)).isoformat(), value=float(v))
               for i, v in enumerate(ev["last_28_days"])]
        keys = [p.key for p in pts]
        w0 = _lima(a.window_start).date().isoformat()
        return [c.spec("ews", c.t("ews.title"), c.t("unit.cases_day"), period="day",
                       x_label=c.t("day"), keys=keys,
                       window=(max(w0, keys[0]), keys[-1]) if keys else None,
                       series=[ChartSeries(name=c.t("cases"), points=pts)])]
    out = []
    if a.detector == "regional_outlier" and _num(ev.get("rate_per_100k")) is not None:
        out.append(_compare(c, "outlier", c.t("outlier.title"), c.t("unit.mme_100k"), "",
                            float(ev["rate_per_100k"]), _num(ev.get("expected_per_100k")), None))
        if len(str(ev.get("area_code") or a.subject_id)) != 2:
            return out  # a province or district: the department's chart is not its own
    dept = a.subject_id[:2] if a.subject_kind == "region" else (a.department or "")
    labels = c.months()
    where = [Establishment.department == dept, Movement.event_type == "dispense"]
    pts = monthly(c, where, labels, "count", _fentanyl, join_est=True)
    spec = c.spec("region", c.t("region.title"), c.t("unit.dispensations_month"),
                  x_label=c.t("month"), keys=labels, window=c.window_months(),
                  series=[ChartSeries(name=c.t("dispensations"), points=pts)])
    months = ev.get("months")
    if a.detector == "regional_surge" and months and _num(ev.get("expected")) is not None:
        spec.refs.append(RefLine(value=float(ev["expected"]) / len(months),
                                 label=c.t("expected_month")))
        spec.window = (min(months), max(months))
    out.append(spec)
    return out


def _records(c: _Ctx) -> list[ChartSpec]:
    a, ev = c.alert, c.ev
    labels = c.months()
    if a.subject_kind == "professional":
        where = [(Movement.professional_id == a.subject_id) | (Movement.prescriber_id == a.subject_id)]
        pts = monthly(c, where, labels, "mg", _fentanyl)
        spec = c.spec("handled", c.t("handled.title"), c.t("unit.fentanyl_mg_month"),
                      x_label=c.t("month"), keys=labels, window=c.window_months(),
                      series=[ChartSeries(name=c.t("handled"), points=pts)])
        if ev.get("deadline"):
            spec.markers.append(Marker(key=str(ev["deadline"])[:7], label=c.t("deadline")))
        return [spec]
    if _num(ev.get("units_unexplained")) is not None:
        return [c.spec("balance", c.t("balance.title"), c.t("unit.units"), kind="compare",
                       unit_short=c.unit("units"), bars=[
            CompareBar(label=c.t("unexplained"), value=abs(float(ev["units_unexplained"]))),
            CompareBar(label=c.t("handled_units"), value=float(ev.get("units_handled") or 0),
                       role="peer")])]
    return []


BUILDERS: dict[str, Callable[[_Ctx], list[ChartSpec]]] = {
    "orders": _orders, "prescriber": _prescriber, "patient": _patient,
    "psychotropics": _psychotropics, "loss": _loss, "custody": _custody,
    "regional": _regional, "records": _records,
}


def charts_for(session: Session, alert: Alert, evidence: dict, lang: str = "es") -> list[ChartSpec]:
    """Return the charts of ``alert`` (empty when nothing meaningful can be drawn)."""
    builder = BUILDERS.get(family(alert.detector))
    if builder is None:
        return []
    return [s for s in builder(_Ctx(session, alert, evidence, lang))
            if s.bars or any(p.value for x in s.series for p in x.points)]
