"""Bedside pattern: a professional who records whole units given where colleagues record a dose
and its residue."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.scoring import (
    betabinom_sf,
    bh_keep,
    icc,
    robust_center_scale,
    strength_from_p,
)
from centinela.detect.util import pair_key


class WholeUnitAdministrations(Detector):
    """A professional whose administrations are whole ampoules far more often than her
    colleagues' on the same ward with the same product.

    Most doses are part of an ampoule (50 mcg from a 100 mcg ampoule), the rest wasted before a
    witness. A professional who charts whole units where the ward charts a dose and its residue
    leaves no waste to witness: the residue — or the whole ampoule — can leave the ward unseen
    (the automated-cabinet audits' "no-waste" pattern). Peers are the other professionals who
    administered the same product at the same establishment (a ward, when wards report apart)
    in the window; a whole unit is an administration of a whole number of units.

    For k whole units out of her n administrations (n ≥ 30), the expected share is her peers'
    pooled share (leave-one-out; ≥ 3 peers with ≥ 100 administrations between them). Flagged
    when the share exceeds the expected by ≥ 15 points and is ≥ 1.5 × it, at least 10 whole
    units are in excess, her share stands out among the peers' own shares (robust z ≥ 3 over
    ≥ 5 peers with ≥ 20 administrations: a ward whose nurses differ by habit is not a finding),
    and the tail probability survives Benjamini–Hochberg (q = 5 %) over every professional ×
    ward × product tested: a beta-binomial whose intra-nurse correlation is estimated from
    her peers (ANOVA; the binomial when they share one habit), so a ward whose nurses differ
    by habit widens the test. The evidence adds her doses per patient-day against her peers'
    (extra doses charted to patients already treated) and how her wastes were witnessed.
    """

    name = "whole_unit_administrations"
    title = ("Administraciones de ampollas enteras sobre sus colegas / Whole-unit "
             "administrations above colleagues")
    tolerates = (
        "a ward whose doses are whole ampoules (the peers' own share is the expectation), "
        "nurses who differ by habit within a ward (robust z >= 3 among >= 5 peers), more "
        "shifts or more patients (a share, not a count), and small numbers (n >= 30, >= 10 "
        "whole units in excess)."
    )
    subject_kind = "professional"
    topics = ("diversion", "waste")
    thresholds = {"administrations": "≥ 30 on one ward and product",
                  "share above peers": "≥ 15 points and ≥ 1.5 ×, ≥ 10 units in excess",
                  "peers": "≥ 3 with ≥ 100 administrations; robust z ≥ 3 over ≥ 5 peers",
                  "multiple testing": "Benjamini–Hochberg q = 5 %"}
    evidence_fields = ("observed", "expected", "administrations", "whole_units", "peers",
                       "robust_z", "doses_per_patient_day", "peer_doses_per_patient_day",
                       "event_ids")

    MIN_N, MIN_PEERS, MIN_PEER_N, POINTS, RATIO, MIN_EXCESS = 30, 3, 100, 0.15, 1.5, 10.0
    Z_MIN, Z_PEERS, Z_PEER_N = 3.0, 5, 20

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("administer") & (f.professional >= 0) & (f.product >= 0)
                              & (f.qty > 0) & ctx.in_scope)
        if len(rows) < self.MIN_N:
            return []
        qty = f.qty[rows]
        whole = (qty >= 1 - 1e-9) & (np.abs(qty - np.round(qty)) < 1e-6)
        width = int(len(f.prodv)) + 1
        group = f.est[rows].astype(np.int64) * width + f.product[rows]
        who = f.professional[rows].astype(np.int64)
        day = ctx.row_day[rows].astype(np.int64)
        cands = []
        for g in np.unique(group):
            in_g = group == g
            pros, n = np.unique(who[in_g], return_counts=True)
            if len(pros) < self.MIN_PEERS + 1:
                continue
            k = np.bincount(np.searchsorted(pros, who[in_g][whole[in_g]]), minlength=len(pros))
            total_n, total_k = int(n.sum()), int(k.sum())
            shares = k / n
            for i in np.flatnonzero(n >= self.MIN_N):
                peer_n, peer_k = total_n - int(n[i]), total_k - int(k[i])
                if peer_n < self.MIN_PEER_N:
                    continue
                base = peer_k / peer_n
                share = float(shares[i])
                excess = float(k[i]) - base * float(n[i])
                others = np.flatnonzero((np.arange(len(pros)) != i) & (n >= self.Z_PEER_N))
                z = None
                if len(others) >= self.Z_PEERS:
                    center, scale = robust_center_scale(shares[others], floor=0.02)
                    z = (share - center) / scale
                ok = (share >= base + self.POINTS and share >= self.RATIO * base
                      and excess >= self.MIN_EXCESS and (z is None or z >= self.Z_MIN))
                # Colleagues who differ by habit widen the test (beta-binomial with their own
                # intra-nurse correlation, hers left out), so a ward's spread is not a finding.
                peers = np.arange(len(pros)) != i
                rho = icc(k[peers].astype(float), n[peers].astype(float))
                p = betabinom_sf(int(k[i]), int(n[i]), base, rho) if ok else 1.0
                cands.append((p, int(g), int(pros[i]), int(n[i]), int(k[i]), base, z, excess))
        if not cands:
            return []
        keep = bh_keep([c[0] for c in cands], len(cands))
        out = []
        for c, ok in zip(cands, keep, strict=True):
            if ok and c[0] < 1.0:
                out.append(self._alert(ctx, rows, group, who, day, whole, *c))
        return out

    def _alert(self, ctx: DetectionContext, rows: np.ndarray, group: np.ndarray,
               who: np.ndarray, day: np.ndarray, whole: np.ndarray, p: float, g: int, c: int,
               n: int, k: int, base: float, z: float | None, excess: float) -> AlertDraft:
        f = ctx.frame
        name = f.profv.name(c)
        in_g = group == g
        mine = in_g & (who == c)
        peers = in_g & (who != c)
        est = int(f.est[rows[mine][0]])
        product = f.prodv.name(int(f.product[rows[mine][0]]))
        pat = f.patient[rows].astype(np.int64)

        def per_patient_day(m: np.ndarray) -> float:
            pairs = len(np.unique(pair_key(pat[m], day[m])))
            return float(m.sum()) / pairs if pairs else 0.0

        mine_rate, peer_rate = per_patient_day(mine & (pat >= 0)), per_patient_day(peers & (pat >= 0))
        hit = rows[mine & whole]
        t0, t1 = int(f.t[rows[mine]].min()), int(f.t[rows[mine]].max())
        unit_mme = float(ctx.row_mme[hit].sum()) / max(float(f.qty[hit].sum()), 1.0)
        mme = excess * unit_mme
        witnesses = self._witnesses(ctx, c, est)
        summary = (f"{name} registró {k} de sus {n} administraciones de {product} en "
                   f"{f.estv.name(est)} como ampollas enteras ({k / n:.0%}), frente a "
                   f"{base:.0%} en sus colegas del mismo servicio, sin residuo que desechar ante "
                   f"testigo: unas {fmt(excess)} ampollas por encima de lo esperado entre el "
                   f"{day_str(t0)} y el {day_str(t1)}.")
        return self.draft(
            name, t0, t1, strength_from_p(p), mme, summary,
            {"metric": "whole-unit administration share", "observed": round(k / n, 4),
             "expected": round(base, 4), "administrations": n, "whole_units": k,
             "excess_units": round(excess, 1), "peers": int(len(np.unique(who[in_g]))) - 1,
             "robust_z": None if z is None else round(float(z), 2), "p_value": p,
             "doses_per_patient_day": round(mine_rate, 3),
             "peer_doses_per_patient_day": round(peer_rate, 3), "product_code": product,
             "establishment_id": f.estv.name(est), **witnesses, **f.events(hit)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )

    @staticmethod
    def _witnesses(ctx: DetectionContext, c: int, est: int) -> dict:
        """How her wastes at ``est`` were witnessed: none, and the share of her most frequent
        witness (one colleague signing for most of them)."""
        f = ctx.frame
        w = np.flatnonzero(f.is_type("waste") & (f.professional == c) & (f.est == est)
                           & ctx.in_scope)
        if not len(w):
            return {"wastes": 0}
        wit = f.witness[w]
        signed = wit[(wit >= 0) & (wit != c)]
        top = float(np.bincount(signed).max() / len(signed)) if len(signed) else 0.0
        return {"wastes": int(len(w)), "wastes_unwitnessed": int(len(w) - len(signed)),
                "top_witness_share": round(top, 3)}
