"""Regional outlier: places whose opioid use per resident is far beyond what they explain."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import calibrate, strength_from_p
from centinela.detect.util import prescriber_exempt
from centinela.geo.outliers import outliers
from centinela.geo.peru import (
    LEVELS,
    beds,
    is_national_referral,
    is_referral,
    population,
    region_name,
)

CHANNELS = {"hospital": "uso hospitalario", "retail": "dispensación minorista"}
HOSPITAL_KINDS = ("hospital", "clinic")


class RegionalOutlier(Detector):
    """MME per resident over the lookback year, by district, province and department, separately
    for hospital use (administrations, and dispensing by hospitals and clinics) and retail
    dispensing (pharmacies and drugstores), against what the place explains.

    Method: ``centinela.geo.outliers`` (see ``docs/geo.md``). Expected use = national rate ×
    exp(β · covariates), each covariate only raising the expectation (β ≥ 0): log(1 + IPRESS
    hospital beds per 1 000 residents); whether a level-III hospital is there; log(1 + registered
    establishments of the channel per 100 000 residents: hospitals and clinics for hospital use,
    pharmacies and drugstores for retail, whose outlets serve the districts around them). Fitted
    robustly (Huber), the most extreme places judged by a fit without them; INEI 2025 population.
    Places without any establishment of the channel are structural zeros, left out. Referral
    hospitals (IPRESS level III or specialized, matched by name; cancer, palliative and national
    institutes) serve patients from other districts and provinces, so their hospital use counts
    at department level only; national hospitals and institutes (``Hospital Nacional``,
    ``Instituto Nacional``, the central military, air-force, naval and police hospitals, by
    name) serve the whole country and count at no level (``prescriber_volume``, orders and
    inventory judge them as establishments).

    Sampling noise comes from the Kish effective number of patients behind the MME (a patient's
    year is one unit; an event without a patient counts one), so a district of 2 000 people with
    one patient on patches is never an outlier; legitimate variation between places is a
    log-normal spread τ; the smoothed rate is the empirical-Bayes posterior (Student-t prior).
    Flagged when the MME is significantly above c × expected, c = max(1.5, e^{2τ}), after
    Benjamini–Hochberg (q = 5 %) over every place of the level and channel, with ≥ 3 effective
    patients. A department or province is not reported again when flagged places inside it make
    half or more of its excess. Age structure is not used (the shipped INEI file has none). The
    alert names the establishments and prescribers that make the excess.

    Prescriptions by oncology and palliative-care prescribers are left out (as opioid-use
    indicators leave out cancer and end-of-life care): a palliative team makes its town's
    per-resident use high by design, and ``prescriber_volume`` judges it against its peers.

    Patients cluster within outlets: when one establishment makes ≥ 90 % of a place's MME, the
    comparison between places rests on a single practice (its design effect is not in the
    patient count: one independent unit, however many patients), so there is no regional
    evidence beyond that outlet's. Such a finding is listed at ``low`` and names the
    establishment as the lead; the subject detectors (orders, prescriber volume, inventory)
    judge the establishment and its prescribers against their peers. The same holds for
    prescribers: when the place's prescribing is one or two practices (Kish effective number of
    prescribers, (Σ share)² ÷ Σ share² over the main prescribers, ≤ 2), the finding is a
    ``low`` lead naming them (``prescriber_volume`` judges them against their peers), and for
    outlets: a place whose use is one or two establishments (Kish effective number of
    establishments < 2.5, i.e. two once rounded: two hospitals making 98 % of a department's
    hospital use beside a small third one) is a ``low`` lead naming them.
    """

    name = "regional_outlier"
    title = "Consumo regional atípico / Regional per-capita outlier"
    tolerates = (
        "places with many hospital beds, a level-III hospital or many outlets (expectation), "
        "national hospitals and institutes (left out: they serve the whole country), "
        "small populations (effective patients), oncology and palliative prescriptions, and "
        "places whose use is one outlet (>= 90 %), one or two outlets (effective number < 2.5) "
        "or one or two prescribers (effective number <= 2): those are low leads naming them, "
        "not regional patterns."
    )
    subject_kind = "region"
    topics = ("regional_surge", "diversion")
    thresholds = {"false discovery rate": "5 % (Benjamini–Hochberg per level and channel)",
                  "ratio": "≥ max(1.5, e^{2τ}) × expected", "effective patients": "≥ 3"}
    evidence_fields = ("channel", "level", "observed_mme", "expected_mme", "rate_per_100k",
                       "expected_per_100k", "smoothed_per_100k", "ratio", "p_value", "q_value",
                       "establishments", "prescribers", "single_outlet", "beds", "population")

    Q, MIN_RATIO, MIN_EFFECTIVE, PARENT_SHARE = 0.05, 1.5, 3.0, 0.5
    SINGLE_OUTLET_SHARE, SINGLE_OUTLET_MAX = 0.9, 35.0  # one outlet: a low lead (< 40)
    FEW_PRESCRIBERS = 2.0  # Kish effective number of prescribers at or below: a low lead
    FEW_OUTLETS = 2.5  # Kish effective number of establishments below (rounds to ≤ 2): a low lead

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        self._ctx = ctx
        f, reg = ctx.frame, ctx.registry
        base = (f.est >= 0) & (f.product >= 0) & (f.t >= ctx.start_t) & (f.t <= ctx.now_t)
        ub_of_est = np.array([(u or "") for u in reg.est_ubigeo] + [""] * (len(f.estv) - len(reg.est_ubigeo)),
                             dtype=object)
        years = max((ctx.now_t - max(ctx.start_t, int(f.t.min(initial=ctx.now_t)))) / (365.25 * DAY), 1 / 12)
        out: list[AlertDraft] = []
        kind = np.array([(k or "") for k in reg.est_kind] + [""] * (len(f.estv) - len(reg.est_kind)),
                        dtype=object)
        at_hospital = np.isin(kind, HOSPITAL_KINDS)
        # Facilities registered per place, covariates of use: hospitals and clinics for hospital
        # use, pharmacies and drugstores for retail (a town's outlets serve the districts around
        # it, so per-resident use follows where the outlets are).
        self._facilities = {"hospital": _count_by_place(ub_of_est[at_hospital]),
                            "retail": _count_by_place(ub_of_est[~at_hospital & (kind != "")])}
        # Referral hospitals serve patients from other districts and provinces: their hospital
        # use counts at department level only.
        names = _names(session, [f.estv.name(int(c)) for c in np.flatnonzero(at_hospital)])
        referral = np.zeros(len(kind), dtype=bool)
        national = np.zeros(len(kind), dtype=bool)
        for c in np.flatnonzero(at_hospital):
            name = names.get(f.estv.name(int(c)))
            referral[c] = is_referral(name, ub_of_est[c])
            national[c] = is_national_referral(name)
        self._referral_rows = referral[np.maximum(f.est, 0)]
        # National hospitals and institutes serve the whole country: their use belongs to no
        # place's residents (the capital would be an outlier every year by design).
        national_row = national[np.maximum(f.est, 0)]
        hosp_row = at_hospital[np.maximum(f.est, 0)]
        masks = {"hospital": (f.is_type("administer") | (f.is_type("dispense") & hosp_row))
                 & ~national_row,
                 "retail": f.is_type("dispense") & ~hosp_row}
        # Cancer and palliative care are left out, as opioid-use indicators do (CDC, CMS): that
        # use follows where the service is, and its prescribers are judged on their own.
        exempt_code = prescriber_exempt(ctx, np.arange(len(f.profv)))
        if len(exempt_code):
            exempt_row = (f.prescriber >= 0) & exempt_code[np.maximum(f.prescriber, 0)]
        else:  # no professional in the data at all (a distributor's file alone)
            exempt_row = np.zeros(len(f.prescriber), dtype=bool)
        for channel in CHANNELS:
            rows = np.flatnonzero(base & masks[channel] & ~exempt_row)
            if len(rows) == 0:
                continue
            known_est = np.array([len(u) == 6 for u in ub_of_est], dtype=bool)
            rows = rows[known_est[f.est[rows]]]
            if len(rows) < 20:
                continue
            found: dict[int, list[dict]] = {}
            for level in (6, 4, 2):
                found[level] = self._level(ctx, channel, level, rows, ub_of_est, years)
            out += self._dedupe(found)
        return out

    def _level(self, ctx, channel, level, rows, ub_of_est, years) -> list[dict]:
        f = ctx.frame
        if channel == "hospital" and level > 2:
            rows = rows[~self._referral_rows[rows]]
        pop = population(level)
        codes = sorted(pop)
        index = {c: i for i, c in enumerate(codes)}
        # Region of each establishment (once), then of each row.
        key_of_est = np.array([index.get(u[:level], -1) if len(u) == 6 else -1 for u in ub_of_est],
                              dtype=np.int64)
        key = key_of_est[f.est[rows]]
        ok = key >= 0
        rows, key = rows[ok], key[ok]
        m = len(codes)
        mme = ctx.row_mme[rows]
        y = np.bincount(key, weights=mme, minlength=m)
        # Kish effective patients: (Σ q)² / Σ q² over patient-years (events without a patient
        # are units of their own).
        pat = f.patient[rows]
        top = int(pat.max(initial=0)) + 1
        unit = np.where(pat >= 0, pat.astype(np.int64), top + np.arange(len(rows), dtype=np.int64))
        pair = key.astype(np.int64) * (top + len(rows)) + unit
        uniq, inv = np.unique(pair, return_inverse=True)
        per_unit = np.bincount(inv, weights=mme)
        unit_region = np.zeros(len(uniq), dtype=np.int64)
        unit_region[inv] = key
        sq = np.bincount(unit_region, weights=per_unit ** 2, minlength=m)
        eff = np.where(sq > 0, y ** 2 / np.maximum(sq, 1e-300), 0.0)
        b = beds(level)
        n = np.array([pop[c] for c in codes], dtype=float) * years
        popv = np.array([pop[c] for c in codes], dtype=float)
        cols = [np.log1p(np.array([b.get(c, (0.0, False))[0] for c in codes]) * 1000.0 / popv),
                np.array([float(b.get(c, (0.0, False))[1]) for c in codes])]
        fac = self._facilities[channel]
        cols.append(np.log1p(np.array([fac.get(c, 0) for c in codes]) * 1e5 / popv))
        cov = np.column_stack(cols)
        # Places with no establishment of the channel cannot use it: structural zeros, left out.
        has = np.array([fac.get(c, 0) > 0 for c in codes]) | (y > 0)
        if has.sum() < 5:
            return []
        idx = np.flatnonzero(has)
        cov = cov[idx]
        cov = cov[:, cov.std(axis=0) > 0] if len(idx) > 1 else cov[:, :0]
        sub = outliers(y[idx], n[idx], covariates=cov if cov.shape[1] else None, effective=eff[idx],
                       q=self.Q, min_ratio=self.MIN_RATIO, min_effective=self.MIN_EFFECTIVE)
        res = _expand(sub, idx, m)
        found = []
        for i in np.flatnonzero(res.flagged):
            sel = rows[key == i]
            found.append({"code": codes[i], "level": level, "channel": channel, "i": i, "res": res,
                          "rows": sel, "y": float(y[i]), "E": float(res.expected[i]),
                          "pop": pop[codes[i]], "beds": b.get(codes[i], (0.0, False)),
                          "years": years, "eff": float(eff[i])})
        return found

    def _dedupe(self, found: dict[int, list[dict]]) -> list[AlertDraft]:
        """Report each flagged place once; skip a parent whose excess its flagged parts explain."""
        out = []
        kept: list[dict] = []
        for level in (6, 4, 2):
            for c in found[level]:
                excess = max(c["y"] - c["E"], 0.0)
                inner = sum(max(k["y"] - k["E"], 0.0) for k in kept
                            if k["code"].startswith(c["code"]) and k["code"] != c["code"])
                if excess > 0 and inner >= self.PARENT_SHARE * excess:
                    continue
                kept.append(c)
        for c in kept:
            out.append(self._alert(c))
        return out

    def _alert(self, c: dict) -> AlertDraft:
        ctx = self._ctx
        f = ctx.frame
        res, i, sel = c["res"], c["i"], c["rows"]
        mme = ctx.row_mme[sel]
        scale = 1e5 / c["pop"] / c["years"]
        ests = _top(f.est[sel], mme, f.estv, c["y"])
        pres = _top(f.prescriber[sel], mme, f.profv, c["y"])
        name = region_name(c["code"])
        level = LEVELS[c["level"]]
        ratio = c["y"] / c["E"] if c["E"] > 0 else float("inf")
        drivers = ", ".join(f"{e['id']} ({e['share']:.0%})" for e in ests[:3])
        nivel = {"district": "Distrito", "province": "Provincia", "department": "Departamento"}[level]
        summary = (f"{nivel} {name}: {CHANNELS[c['channel']]} de {fmt(round(c['y'] * scale))} MME "
                   f"por 100 000 habitantes, {ratio:.1f} veces lo esperado por su población y sus "
                   f"hospitales; concentrado en {drivers}"
                   + (f"; el prescriptor {pres[0]['id']} firma el {pres[0]['share']:.0%}"
                      if pres and pres[0]["share"] >= 0.3 else "") + ".")
        p = float(res.p_value[i])
        t0 = int(f.t[sel].min())
        t1 = int(f.t[sel].max())
        single = bool(ests) and ests[0]["share"] >= self.SINGLE_OUTLET_SHARE
        # The same clustering within prescribers: when the prescribing is one or two practices
        # (Kish effective number of prescribers ≤ 2), there is no regional evidence beyond them.
        shares = [x["share"] for x in pres]
        eff_presc = _kish(shares)
        few_presc = not single and eff_presc <= self.FEW_PRESCRIBERS
        # And within outlets: a place whose use is one or two establishments (Kish effective
        # number of outlets < 2.5) has no regional evidence beyond those two practices.
        est_shares = [x["share"] for x in ests]
        eff_est = _kish(est_shares)
        few_outlets = not single and not few_presc and eff_est < self.FEW_OUTLETS
        score = None
        if single:
            summary += (f" Un solo establecimiento hace el {ests[0]['share']:.0%}: la pista es "
                        f"{ests[0]['id']}, no un patrón regional.")
        elif few_outlets:
            summary += (" El uso es de uno o dos establecimientos ("
                        + ", ".join(x["id"] for x in ests[:2])
                        + "): la pista son ellos, no un patrón regional.")
        elif few_presc:
            summary += (" La prescripción es de uno o dos prescriptores ("
                        + ", ".join(x["id"] for x in pres[:2])
                        + "): la pista son ellos, no un patrón regional.")
        if single or few_presc or few_outlets:
            score = min(calibrate(strength_from_p(p), max(c["y"] - c["E"], 0.0))[0],
                        self.SINGLE_OUTLET_MAX)
        # The data contract's region subject is the 2-digit department: a province or
        # district finding is the department's alert for that area (``variant``, ``area_code``),
        # one per area, never folded into another area's.
        return self.draft(
            c["code"][:2], t0, t1, strength_from_p(p), max(c["y"] - c["E"], 0.0), summary,
            {"channel": c["channel"], "level": level, "region_name": name,
             "area_code": c["code"],
             "observed_mme": c["y"], "expected_mme": c["E"], "ratio": ratio,
             "rate_per_100k": c["y"] * scale, "expected_per_100k": c["E"] * scale,
             "smoothed_per_100k": float(res.smoothed_rate[i]) * 1e5,
             "p_value": p, "q_value": float(res.q_value[i]), "score_z": float(res.score[i]),
             "effective_patients": c["eff"], "tau": res.params.get("tau"),
             "threshold_ratio": res.params.get("threshold_ratio"),
             "population": c["pop"], "beds": c["beds"][0], "referral_hospital": c["beds"][1],
             "window": [day_str(t0), day_str(t1)],
             "establishments": ests, "prescribers": pres, "single_outlet": single,
             "effective_prescribers": round(eff_presc, 2) if shares else None,
             "effective_establishments": round(eff_est, 2) if est_shares else None,
             **f.events(sel)},
            department=c["code"][:2], ubigeo=c["code"] if c["level"] == 6 else None, score=score,
            variant=c["code"] if len(c["code"]) > 2 else "",
        )


def _names(session: Session, ids: list[str]) -> dict[str, str]:
    """Return establishment id → name for ``ids``."""
    from sqlalchemy import select

    from centinela.registry.models import Establishment

    out: dict[str, str] = {}
    for k in range(0, len(ids), 5000):
        chunk = ids[k:k + 5000]
        out.update(dict(session.execute(select(Establishment.establishment_id, Establishment.name)
                                        .where(Establishment.establishment_id.in_(chunk))).all()))
    return out


def _expand(sub, idx: np.ndarray, m: int):
    """Return ``sub``'s per-region arrays placed at ``idx`` of ``m`` regions (others unflagged)."""
    from dataclasses import fields, replace

    out = {}
    for fld in fields(sub):
        v = getattr(sub, fld.name)
        if isinstance(v, np.ndarray):
            full = np.zeros(m, dtype=v.dtype)
            if fld.name in ("p_value", "q_value"):
                full[:] = 1
            full[idx] = v
            out[fld.name] = full
    return replace(sub, **out)


def _count_by_place(ubigeos) -> dict[str, int]:
    """Return place code (6, 4 and 2 digits) → number of establishments there."""
    out: dict[str, int] = {}
    for u in ubigeos:
        if len(u) == 6:
            for level in (6, 4, 2):
                out[u[:level]] = out.get(u[:level], 0) + 1
    return out


def _top(codes: np.ndarray, mme: np.ndarray, vocab, total: float, k: int = 5) -> list[dict]:
    """Return the ``k`` largest contributors (id, MME, share of the place's total)."""
    ok = codes >= 0
    if not ok.any() or total <= 0:
        return []
    sums = np.bincount(codes[ok], weights=mme[ok])
    # Largest first; equal sums by id (not by the frame's codes), so reruns name the same.
    order = sorted(np.flatnonzero(sums > 0), key=lambda j: (-float(sums[j]), vocab.name(int(j)) or ""))[:k]
    return [{"id": vocab.name(int(j)), "mme": round(float(sums[j]), 1),
             "share": round(float(sums[j]) / total, 3)} for j in order if sums[j] > 0]


def _kish(shares: list[float]) -> float:
    """Kish's effective number of contributors, (Σs)² / Σs²; infinite when there are none or
    every share is too small to register (many contributors, each rounded to 0)."""
    square = sum(x * x for x in shares)
    return sum(shares) ** 2 / square if square > 0 else float("inf")
