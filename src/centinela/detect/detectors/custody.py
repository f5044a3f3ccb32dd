"""Chain of custody: serials used twice, shipments never received, unauthorized receivers,
seized units traced back to their last custodian."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.frame import CONSUMED, INBOUND, to_epoch
from centinela.detect.grouping import grouped
from centinela.detect.scoring import calibrate
from centinela.detect.util import groups, month_bounds, month_index, pair_key
from centinela.detect.window import lot_spellings
from centinela.ledger.records import Seizure
from centinela.ledger.transfers import LATE_RECEIPT_DAYS, RECEIPT_LEAD, receipt_window

LEAD_S = int(RECEIPT_LEAD.total_seconds())  # a receipt may be booked before its shipment
NOTICE_SCORE = 35.0  # a notice: low, below the medium band (40)


class SerialReuse(Detector):
    """A serialized unit (product + GS1 serial) consumed more than once.

    Consumption is dispense, administer, waste, loss or export. A unit partly administered and
    its residue wasted adds up to one unit and is not flagged; more than one unit consumed, or
    consumption at two establishments, means a cloned or re-used serial.

    The professionals who recorded the consumptions after the first (the unit was gone by
    then) are named. One professional behind three or more such serials is one cause: she
    gets one alert (subject ``professional``) naming every serial, and each serial's alert is
    kept at ``low`` under it (``grouped_under_professional`` in its evidence).

    A serial consumed twice by one professional, for one patient, in one establishment within
    a day (the same pack scanned again for the next dose) is a notice (``low``, variant
    ``same_hand``): a recording slip as likely as a reuse; such serials still count towards
    her roll-up.
    """

    name = "serial_reuse"
    title = "Serie usada dos veces / Serial used twice"
    tolerates = (
        "a partial administration plus its wasted residue (one unit in total) and the same "
        "serial re-sent in a duplicate file (idempotent import). A serial is a physical "
        "identity: two consumptions are never a reporting habit."
    )
    subject_kind = "serial"
    realtime = True
    topics = ("custody", "counterfeit")
    thresholds = {"consumed units per serial": "> 1", "establishments consuming it": "> 1"}
    evidence_fields = ("serial", "product_code", "units_consumed", "establishments",
                       "professionals", "event_ids")
    ROLL_UP_MIN = 3  # serials behind one professional's later consumptions: one alert on her

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero((f.serial >= 0) & f.is_type(*CONSUMED) & (f.product >= 0))
        if len(rows) == 0:
            return []
        key = pair_key(f.product[rows], f.serial[rows])
        uniq, inv = np.unique(key, return_inverse=True)
        consumed = np.bincount(inv, weights=f.qty[rows])
        n_events = np.bincount(inv)
        cand = np.flatnonzero((consumed > 1.0 + 1e-6) | (n_events > 1))
        sel = np.isin(inv, cand)
        scope = ctx.in_scope
        out: list[AlertDraft] = []
        later: dict[int, list[tuple[int, np.ndarray]]] = {}  # professional → (draft, its rows)
        for k, grp in groups(inv[sel], rows[sel]):
            if not scope[grp].any():
                continue
            ests = sorted({f.estv.name(e) for e in f.est[grp]})
            units = float(consumed[k])
            if units <= 1.0 + 1e-6 and len(ests) < 2:
                continue
            serial = f.serialv.name(int(f.serial[grp[0]]))
            product = f.prodv.name(int(f.product[grp[0]]))
            last = grp[np.argmax(f.t[grp])]
            extra_mme = float(np.sum(ctx.row_mme[grp])) * max(units - 1.0, 1.0) / max(units, 1e-9)
            # Who recorded the consumptions after the first: the unit was gone by then.
            by_time = grp[np.argsort(f.t[grp], kind="stable")]
            after = sorted({int(p) for p in f.professional[by_time[1:]] if p >= 0})
            names = [f.profv.name(p) for p in after]
            summary = (f"La unidad con serie {serial} ({product}) figura consumida {fmt(units)} veces "
                       f"en {len(ests)} establecimiento(s)"
                       + (f", la segunda vez o las siguientes registradas por {', '.join(names)}"
                          if names else "")
                       + ", lo que indica una serie clonada o reutilizada.")
            # Every consumption by one professional, for one patient, in one establishment
            # within a day: the same pack scanned for the next dose reads as a recording slip
            # as much as a reuse. A notice (low); three or more such serials behind one
            # professional still make her roll-up alert.
            profs, pats = set(f.professional[grp].tolist()), set(f.patient[grp].tolist())
            same_hand = (len(profs) == 1 and min(profs) >= 0 and len(pats) == 1 and min(pats) >= 0
                         and len(ests) == 1 and int(f.t[grp].max() - f.t[grp].min()) <= DAY)
            score = None
            if same_hand:
                score = min(calibrate(0.9, extra_mme)[0], NOTICE_SCORE)
                summary = summary[:-1] + (": la misma profesional, para el mismo paciente y el "
                                          "mismo día; puede ser un error de registro (aviso de "
                                          "baja prioridad).")
            for p in after:
                later.setdefault(p, []).append((len(out), grp))
            out.append(self.draft(
                serial, int(f.t[grp].min()), int(f.t[grp].max()), 0.9, extra_mme, summary,
                {"serial": serial, "product_code": product, "units_consumed": units,
                 "expected": 1.0, "establishments": ests, "professionals": names,
                 "same_hand": same_hand, **f.events(grp)},
                department=ctx.est_department(int(f.est[last])),
                ubigeo=ctx.registry.est_ubigeo[int(f.est[last])], score=score,
                variant="same_hand" if same_hand else "",
            ))
        return self._roll_up(ctx, out, later)

    def _roll_up(self, ctx: DetectionContext, drafts: list[AlertDraft],
                 later: dict[int, list[tuple[int, np.ndarray]]]) -> list[AlertDraft]:
        """One professional behind ``ROLL_UP_MIN`` or more of them: one alert on her, naming
        every serial, and each serial's alert kept at ``low`` under it (one cause, one alert)."""
        f = ctx.frame
        rolled: dict[int, list[str]] = {}
        extra = []
        for p, items in sorted(later.items()):
            if len(items) < self.ROLL_UP_MIN:
                continue
            name = f.profv.name(p)
            rows = np.unique(np.concatenate([g for _i, g in items]))
            serials = sorted(drafts[i].subject_id for i, _g in items)
            mme = float(sum(float(drafts[i].evidence.get("mme") or 0.0) for i, _g in items))
            ests = f.est[rows[f.professional[rows] == p]]
            top = int(np.bincount(ests).argmax()) if len(ests) else int(f.est[rows[0]])
            summary = (f"{name} registró el consumo de {len(serials)} unidades cuya serie ya "
                       f"figuraba consumida (series clonadas o reutilizadas) entre el "
                       f"{day_str(int(f.t[rows].min()))} y el {day_str(int(f.t[rows].max()))}.")
            extra.append(self.draft(
                name, int(f.t[rows].min()), int(f.t[rows].max()), 0.95, mme, summary,
                {"serials": serials[:50], "serial_count": len(serials),
                 "establishment_id": f.estv.name(top), **f.events(rows)},
                department=ctx.est_department(top), ubigeo=ctx.registry.est_ubigeo[top],
                subject_kind="professional", variant="professional"))
            for i, _g in items:
                rolled.setdefault(i, []).append(name)
        for i, names in rolled.items():
            drafts[i] = grouped(drafts[i], f"; se agrupa en la alerta de {', '.join(names)}.",
                                {"grouped_under_professional": names})
        return drafts + extra


class UnauthorizedReceiver(Detector):
    """A controlled unit received (or shipped to) an establishment that may not hold it.

    Not authorized for controlled medicines, licence expired on the movement's date, or not in
    the registry at all. One alert per receiving establishment and calendar month.
    """

    name = "unauthorized_receiver"
    title = "Receptor no autorizado / Unauthorized receiver"
    tolerates = (
        "receipts on the day a licence is renewed (validity is judged on the movement's "
        "date); repeats in a month are one alert. No base rate: an unlicensed holder is "
        "unlawful however rare."
    )
    subject_kind = "establishment"
    realtime = True
    topics = ("unauthorized_holder", "custody")
    thresholds = {"authorized_controlled": "false", "authorization_expires": "before the movement",
                  "registry": "receiver not registered"}
    evidence_fields = ("reason", "authorization_expires", "units", "event_ids")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        day = ctx.row_day
        inbound = f.is_type(*INBOUND) & (f.est >= 0)
        shipped = f.is_type("transfer_out") & (f.counterparty >= 0)
        receiver = np.where(inbound, f.est, np.where(shipped, f.counterparty, -1))
        rec = np.maximum(receiver, 0)
        known = reg.est_known[rec]
        expired = ~np.isnan(reg.est_expires_day[rec]) & (reg.est_expires_day[rec] < day)
        bad = (receiver >= 0) & (~known | ~reg.est_authorized[rec] | expired)
        rows = np.flatnonzero(bad)
        if len(rows) == 0:
            return []
        month = month_index(f.t[rows])
        key = pair_key(receiver[rows], month - month.min())
        scope = ctx.in_scope
        # The whole span per receiver (every month of it), told beside each month's finding:
        # a month's 90 units are one piece of 320 received since December.
        # A shipment between two reporters is in the books twice (the sender's transfer_out, the
        # receiver's receipt): the receiver's own rows count when it has any, else the senders'.
        booked = {int(x) for x in receiver[rows[inbound[rows]]]}
        counted = np.array([bool(inbound[i]) == (int(receiver[i]) in booked) for i in rows])
        totals: dict[int, list] = {}
        for i in rows[counted]:
            tot = totals.setdefault(int(receiver[i]), [0.0, 0, int(f.t[i])])
            tot[0] += float(f.qty[i])
            tot[1] += 1
            tot[2] = min(tot[2], int(f.t[i]))
        once = dict(zip(rows.tolist(), counted.tolist(), strict=True))
        out = []
        for _, grp in groups(key, rows):
            if not scope[grp].any():
                continue
            r = int(receiver[grp[0]])
            name = f.estv.name(r)
            if not reg.est_known[r]:
                reason, strength = "no registrado", 0.75
            elif not reg.est_authorized[r]:
                reason, strength = "no autorizado para medicamentos controlados", 0.85
            else:
                reason, strength = "licencia vencida", 0.8
            m0, m1 = month_bounds(int(month_index(f.t[grp[:1]])[0]))
            mine = np.array([once[int(i)] for i in grp])
            if not mine.any():  # this month only the senders booked it
                mine = np.ones(len(grp), dtype=bool)
            units = float(f.qty[grp[mine]].sum())
            expires = reg.est_expires_day[r]
            all_units, all_moves, since = totals[r]
            whole = (f" (en total {fmt(all_units)} unidades en {all_moves} movimientos desde el "
                     f"{day_str(since)})" if all_moves > int(mine.sum()) else "")
            summary = (f"El establecimiento {name} ({reason}) recibió o le enviaron {fmt(units)} "
                       f"unidades de medicamentos controlados entre {day_str(int(f.t[grp].min()))} "
                       f"y {day_str(int(f.t[grp].max()))}{whole}.")
            out.append(self.draft(
                name, m0, m1, strength, float(ctx.row_mme[grp].sum()), summary,
                {"reason": reason, "establishment_known": bool(reg.est_known[r]),
                 "authorized_controlled": bool(reg.est_authorized[r]),
                 "authorization_expires": None if np.isnan(expires) else
                 (dt.date(1970, 1, 1) + dt.timedelta(days=int(expires))).isoformat(),
                 "units": units, "units_since_first": all_units, "movements_since_first": all_moves,
                 "first_date": day_str(since), "senders": sorted({f.estv.name(int(x)) for x in
                                                    np.where(f.is_type("transfer_out")[grp],
                                                             f.est[grp], f.counterparty[grp])
                                                    if x >= 0}),
                 **f.events(grp)},
                department=reg.est_dept[r] or ctx.est_department(int(f.est[grp[0]])),
                ubigeo=reg.est_ubigeo[r],
            ))
        return out


class TransferNotReceived(Detector):
    """A ``transfer_out`` whose units never appear as a receipt at the counterparty.

    Receipts (``receipt``/``transfer_in``) of the same product from the sender are matched to
    shipments from three days before the shipment (the sender may book its transfer_out after the
    receiver booked the receipt) to ``transfer_receipt_days`` after, and, when booked later, up
    to ``LATE_DAYS`` (31, one monthly reporting cycle) after: a delivery note typed in a week or
    three late is a late booking, not a missing shipment. Receipts that account for a shipment
    whole are matched first: one receipt of the same quantity or of that many packs (units
    recorded as packs, in every pass), or two receipts adding up to it (a delivery booked in two
    parts, or received days apart; counted a day further than a single receipt). Receipts inside
    the receipt window come before late ones, then the same lot, then the closest in time; a late
    receipt is not taken while it lies in the window of another shipment still unmatched; a
    shipment left without a whole receipt may then take one from another shipment that has a free
    alternative (at most ``MAX_REASSIGN`` such hand-overs), so one late or mixed-up booking on a
    route never leaves the next shipment short. What is left is matched in time order. A shipment
    left short inside a burst of shipments whose receipts add up to every unit shipped around it
    (± the receipt days) is a matching ambiguity, not a loss; one still short after the late
    receipts is flagged (subject: the transfer_out's event_id).

    A shipment is due ``transfer_receipt_days`` after it or, for a receiver that books its
    deliveries later as a habit, after that receiver's usual delay (the 90th percentile, over
    its ≥ 3 receipts, of the time since the latest shipment of the same route and product; at
    most 31 days).

    Each shipment is judged against the **receiver's own reporting horizon** (its latest reported
    movement of any kind), not the newest movement in the database: a shipment due after the
    receiver's last report waits for the receiver's next report (establishments send their
    months late). A receiver that keeps reporting past the due date without booking the receipt
    is flagged. A receiver that has reported nothing for more than ``SILENT_DAYS`` (two monthly
    cycles) gets one low notice (subject: the receiver) listing the shipments sent to it since its
    last report: missing reports, not evidence of a diversion. A receiver that has reported no
    movement at all is judged by the database's horizon (its shipments vanish from the record).

    Roll-ups: shipments of one sender arriving short at three or more receivers (a fifth of
    those it ships to, each short of no other sender) are one alert on the sender (variant
    ``sender``: shipments recorded larger than what left); three or more lost shipments of one
    receiver are one alert on the receiver (variant ``receiver``). Each shipment's alert is kept
    at ``low`` under its roll-up.
    """

    name = "transfer_not_received"
    title = "Envío no recibido / Transfer never received"
    tolerates = (
        "receipts booked up to transfer_receipt_days late (and, when no other shipment needs "
        "them, up to 31 days late: the delivery note typed in a reporting cycle later), a "
        "receipt booked before the "
        "sender's transfer_out (three days), deliveries booked in two parts, units recorded as "
        "packs (however late), bursts of identical shipments whose receipts add up, and "
        "receivers that book deliveries late as a habit (due after their own usual delay), "
        "receivers whose latest reports are not in yet (a shipment due after the receiver's "
        "last report is not judged; a receiver silent for two months is a low notice): each is "
        "how honest logistics gets recorded."
    )
    subject_kind = "shipment"
    topics = ("custody", "theft_loss")
    rechecks = True  # a receipt booked late makes the shipment's alert stale
    settings_used = ("transfer_receipt_days",)
    thresholds = {"missing units": "≥ 1 (or the whole shipment if it is fractional)",
                  "receiver's horizon": "its latest report on or after the due date",
                  "silent receiver (low notice)": "no report for > 62 days"}
    evidence_fields = ("sender", "receiver", "units_shipped", "units_received", "due",
                       "receiver_last_report")

    LATE_DAYS = LATE_RECEIPT_DAYS  # one reporting cycle: late, not missing (ledger.transfers)
    SILENT_DAYS = 2 * LATE_RECEIPT_DAYS  # two reporting cycles without any report: silent
    MAX_REASSIGN = 2  # hand-overs of a whole receipt between shipments of one route
    BURST_TOLERANCE = 0.02  # share of a burst's units that split and late bookings may leave
    LAG_MIN_RECEIPTS = 3  # receipts before a receiver's own booking delay is estimated

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        # The ledger's one receipt window (centinela.ledger.transfers), in seconds.
        grace = int(receipt_window(ctx.settings.transfer_receipt_days)[1].total_seconds())
        outs = np.flatnonzero(f.is_type("transfer_out") & (f.counterparty >= 0) & (f.product >= 0))
        ins = np.flatnonzero(f.is_type("receipt", "transfer_in") & (f.counterparty >= 0)
                             & (f.product >= 0))
        if len(outs) == 0:
            return []
        width_e = len(f.estv) + 1
        width_p = len(f.prodv) + 1
        # Each establishment's reporting horizon: its latest movement of any kind up to now.
        horizon = np.full(width_e, np.iinfo(np.int64).min, dtype=np.int64)
        rep = np.flatnonzero((f.est >= 0) & (f.t <= ctx.now_t))
        np.maximum.at(horizon, f.est[rep], f.t[rep].astype(np.int64))
        # A receiver books its deliveries with its own delay (a clerk typing delivery notes once
        # a fortnight): a shipment is due after the larger of the receipt window and that
        # receiver's usual delay (90th percentile of its receipts' delay after their shipment,
        # at most LATE_DAYS).
        okey = (f.est[outs].astype(np.int64) * width_e + f.counterparty[outs]) * width_p + f.product[outs]
        ikey = (f.counterparty[ins].astype(np.int64) * width_e + f.est[ins]) * width_p + f.product[ins]
        allk, inv = np.unique(np.concatenate([okey, ikey]), return_inverse=True)
        oinv, iinv = inv[: len(outs)], inv[len(outs):]
        lag = self._booking_lag(f, outs, ins, oinv, iinv, width_e)
        due = f.t[outs].astype(np.int64) + np.maximum(grace, lag[f.counterparty[outs]])
        r_h = horizon[f.counterparty[outs]]
        never = r_h == np.iinfo(np.int64).min
        judged = never | (r_h >= due)  # the receiver reported past the due date (or never)
        silent = ~judged & (r_h < ctx.now_t - self.SILENT_DAYS * DAY)
        sent = np.bincount(oinv, weights=f.qty[outs], minlength=len(allk))
        got = np.bincount(iinv, weights=f.qty[ins], minlength=len(allk))
        due_now = (due <= ctx.now_t) & ctx.in_scope[outs]
        eligible = due_now & judged
        short_groups = set(np.flatnonzero(got + 1e-6 < sent).tolist())
        candidates = set(np.unique(oinv[due_now & (judged | silent)]).tolist()) & short_groups
        if not candidates:
            return []
        cand = np.array(sorted(candidates))
        in_by_group: dict[int, list[int]] = {}
        isel = np.isin(iinv, cand)
        for k, grp in groups(iinv[isel], ins[isel]):
            in_by_group[k] = sorted(grp.tolist(), key=lambda i: f.t[i])
        out = []
        unheard: dict[int, list[tuple[int, float]]] = {}  # silent receiver -> (shipment, missing)
        # Lines of one delivery note (same sender, receiver and instant) lost together are
        # one shipment: one alert.
        lost: dict[tuple[int, int, int], list[tuple[int, float, list[int]]]] = {}
        osel = np.isin(oinv, cand)
        pos_of = {int(o): j for j, o in enumerate(outs)}
        for k, grp in groups(oinv[osel], outs[osel]):
            ships = sorted(grp.tolist(), key=lambda i: f.t[i])
            pool = [[int(f.t[i]), float(f.qty[i]), i] for i in in_by_group.get(k, [])]
            pack = float(ctx.registry.prod_pack[int(f.product[ships[0]])])
            done, owned_by = self._match_whole(f, ships, pool, pack, grace)
            short: list[tuple[int, float, list[int]]] = []
            for o in ships:
                if o in done:
                    continue
                need = float(f.qty[o])
                t_out = int(f.t[o])
                matched: list[int] = []
                for item in pool:
                    if need <= 1e-6:
                        break
                    if item[1] <= 1e-6 or not (t_out - LEAD_S <= item[0] <= t_out + grace):
                        continue
                    take = min(item[1], need)
                    item[1] -= take
                    need -= take
                    matched.append(int(item[2]))
                j = pos_of[int(o)]
                if need < min(1.0, float(f.qty[o])) - 1e-6 or not (eligible[j] or
                                                                   (due_now[j] and silent[j])):
                    continue
                if self._balanced_nearby(f, ships, in_by_group.get(k, []), owned_by, t_out, grace):
                    continue  # every unit shipped around then arrived: a matching ambiguity
                short.append((o, need, matched))
            # Late bookings: receipts left over once every shipment took those within its own
            # window may still account for a short shipment when booked up to LATE_DAYS after it
            # (the delivery note typed in weeks later). Same lot first, then the earliest.
            for o, need, matched in short:
                need = self._match_late(f, o, need, pool, grace, matched)
                if need < min(1.0, float(f.qty[o])) - 1e-6:
                    continue
                if silent[pos_of[int(o)]]:
                    unheard.setdefault(int(f.counterparty[o]), []).append((o, need))
                else:
                    key = (int(f.est[o]), int(f.counterparty[o]), int(f.t[o]))
                    lost.setdefault(key, []).append((o, need, matched))
        by_receiver: dict[int, list[int]] = {}
        by_sender: dict[int, dict[int, list[int]]] = {}
        for (sender, receiver, _t), lines in sorted(lost.items()):
            by_receiver.setdefault(receiver, []).append(len(out))
            by_sender.setdefault(sender, {}).setdefault(receiver, []).append(len(out))
            out.append(self._alert(ctx, lines, horizon))
        # Receivers each sender supplied: counted only for senders short at enough receivers.
        many = [snd for snd, rs in by_sender.items() if len(rs) >= self.SENDER_MIN_RECEIVERS]
        served: dict[int, int] = {}
        if many:
            mine = eligible & np.isin(f.est[outs], many)
            pairs = np.unique(f.est[outs[mine]].astype(np.int64) * width_e + f.counterparty[outs[mine]])
            snd, n = np.unique(pairs // width_e, return_counts=True)
            served = dict(zip(snd.tolist(), n.tolist(), strict=True))
        out += self._roll_up_senders(ctx, out, by_sender, by_receiver, served)
        out += self._roll_up(ctx, out, by_receiver)
        for receiver, items in sorted(unheard.items()):
            out.append(self._silent_notice(ctx, receiver, int(horizon[receiver]), items))
        return out

    ROLL_UP_MIN = 3  # shipments lost on the way to one receiver: one alert on the receiver
    SENDER_MIN_RECEIVERS = 3  # receivers short of one sender's shipments (and of no other's)
    SENDER_MIN_SHARE = 0.2  # … and that share of the receivers it shipped to

    def _roll_up_senders(self, ctx: DetectionContext, drafts: list[AlertDraft],
                         by_sender: dict[int, dict[int, list[int]]],
                         by_receiver: dict[int, list[int]],
                         served: dict[int, int]) -> list[AlertDraft]:
        """Shipments of one sender that arrive short at ``SENDER_MIN_RECEIVERS`` or more
        receivers (each short of no other sender's shipments), a ``SENDER_MIN_SHARE`` of the
        receivers it shipped to: the common factor is the sender (shipments recorded larger than
        what left, the difference diverted), not each receiver. One alert on the sender; every
        shipment's alert kept at ``low`` under it, and those receivers get no roll-up of their
        own (``by_receiver`` loses them)."""
        f = ctx.frame
        extra = []
        for sender, receivers in sorted(by_sender.items()):
            own = [r for r in receivers if len(by_receiver.get(r, [])) == len(receivers[r])]
            if (len(own) < self.SENDER_MIN_RECEIVERS
                    or len(own) < self.SENDER_MIN_SHARE * max(served.get(sender, 0), 1)):
                continue
            name = f.estv.name(sender)
            idx = [i for r in own for i in receivers[r]]
            ds = [drafts[i] for i in idx]
            missing = float(sum(float(d.evidence.get("units_missing") or 0) for d in ds))
            shipped = float(sum(float(d.evidence.get("units_shipped") or 0) for d in ds))
            mme = float(sum(float(d.evidence.get("mme") or 0) for d in ds))
            partial = sum(1 for d in ds if float(d.evidence.get("units_received") or 0) > 0)
            t0 = min(d.window_start for d in ds)
            t1 = max(d.window_end for d in ds)
            names = sorted(f.estv.name(r) for r in own)
            summary = (f"Los envíos de {name} llegan incompletos o no llegan a {len(own)} de los "
                       f"{served.get(sender, len(own))} establecimientos que abastece: faltan "
                       f"{fmt(missing)} de {fmt(shipped)} unidades en {len(ds)} envíos"
                       + (f" ({partial} recibidos en parte)" if partial else "")
                       + f" entre el {day_str(to_epoch(t0))} y el {day_str(to_epoch(t1))}. El "
                       "factor común es el remitente (envíos registrados mayores que lo que "
                       "salió), no cada receptor.")
            extra.append(self.draft(
                name, to_epoch(t0), to_epoch(t1), 0.95, mme, summary,
                {"reason": "sender_many", "sender": name, "receivers": names[:50],
                 "receiver_count": len(own), "receivers_served": served.get(sender, len(own)),
                 "shipments": [d.subject_id for d in ds][:50], "shipment_count": len(ds),
                 "shipments_partly_received": partial,
                 "units_shipped": round(shipped, 4), "units_missing": round(missing, 4),
                 "units_received": round(shipped - missing, 4)},
                department=ctx.registry.est_dept[sender] or ctx.est_department(sender),
                ubigeo=ctx.registry.est_ubigeo[sender], subject_kind="establishment",
                variant="sender"))
            for i in idx:
                drafts[i] = grouped(drafts[i], f"; se agrupa en la alerta del remitente {name}.",
                                    {"grouped_under_establishment": name})
            for r in own:
                by_receiver.pop(r, None)
        return extra

    def _roll_up(self, ctx: DetectionContext, drafts: list[AlertDraft],
                 by_receiver: dict[int, list[int]]) -> list[AlertDraft]:
        """A receiver behind ``ROLL_UP_MIN`` or more lost shipments: one alert on it (subject
        ``establishment``), each shipment's alert kept at ``low`` under it."""
        f = ctx.frame
        extra = []
        for receiver, idx in sorted(by_receiver.items()):
            if len(idx) < self.ROLL_UP_MIN:
                continue
            name = f.estv.name(receiver)
            ds = [drafts[i] for i in idx]
            senders = sorted({str(d.evidence.get("sender")) for d in ds})
            missing = float(sum(float(d.evidence.get("units_missing") or 0) for d in ds))
            shipped = float(sum(float(d.evidence.get("units_shipped") or 0) for d in ds))
            mme = float(sum(float(d.evidence.get("mme") or 0) for d in ds))
            t0 = min(d.window_start for d in ds)
            t1 = max(d.window_end for d in ds)
            shipments = [d.subject_id for d in ds]
            summary = (f"{name} no registró la recepción de {len(ds)} envíos de "
                       f"{', '.join(senders)} ({fmt(missing)} unidades faltantes) entre el "
                       f"{day_str(to_epoch(t0))} y el {day_str(to_epoch(t1))}.")
            extra.append(self.draft(
                name, to_epoch(t0), to_epoch(t1), 0.9, mme, summary,
                {"reason": "receiver_many", "receiver": name, "senders": senders,
                 "shipments": shipments[:50], "shipment_count": len(ds),
                 "units_shipped": round(shipped, 4), "units_missing": round(missing, 4),
                 "units_received": round(shipped - missing, 4),
                 "receiver_registered": bool(ctx.registry.est_known[receiver])},
                department=ctx.registry.est_dept[receiver] or ctx.est_department(receiver),
                ubigeo=ctx.registry.est_ubigeo[receiver], subject_kind="establishment",
                variant="receiver"))
            for i in idx:
                drafts[i] = grouped(drafts[i], f"; se agrupa en la alerta del receptor {name}.",
                                    {"grouped_under_establishment": name})
        return extra

    def _booking_lag(self, f, outs: np.ndarray, ins: np.ndarray, oinv: np.ndarray,
                     iinv: np.ndarray, width_e: int) -> np.ndarray:
        """Per establishment, its usual delay in booking a delivery (seconds): the 90th
        percentile, over its receipts (≥ ``LAG_MIN_RECEIPTS``), of the time since the latest
        shipment of the same route and product (up to a day after the receipt), capped at
        ``LATE_DAYS``; 0 when it has too few receipts. ``oinv``/``iinv`` rank the route ×
        product of each shipment and receipt."""
        out = np.zeros(width_e, dtype=np.int64)
        if len(ins) == 0:
            return out
        # One sorted key per row: route rank, then time (relative, so it fits 32 bits).
        t0 = int(min(f.t[outs].min(), f.t[ins].min())) - LEAD_S
        skey = (oinv.astype(np.int64) << 32) | (f.t[outs].astype(np.int64) - t0)
        order = np.argsort(skey, kind="stable")
        skey = skey[order]
        t_in = f.t[ins].astype(np.int64)
        pos = np.searchsorted(skey, (iinv.astype(np.int64) << 32) | (t_in + LEAD_S - t0),
                              "right") - 1
        ok = pos >= 0
        ok[ok] = (skey[pos[ok]] >> 32) == iinv[ok]  # the latest shipment of the same route
        lag = t_in[ok] - f.t[outs][order][pos[ok]].astype(np.int64)
        est = f.est[ins][ok]
        keep = (lag >= 0) & (lag <= self.LATE_DAYS * DAY)
        for e, v in groups(est[keep], lag[keep]):
            if len(v) >= self.LAG_MIN_RECEIPTS:
                out[int(e)] = int(np.percentile(v, 90))
        return out

    def _match_late(self, f, o: int, need: float, pool: list[list], grace: int,
                    matched: list[int]) -> float:
        """Take leftover receipts booked after the grace and up to ``LATE_DAYS`` after the
        shipment; return the units still missing."""
        t_out, lot = int(f.t[o]), int(f.lot[o])
        late = [it for it in pool if it[1] > 1e-6 and t_out + grace < it[0] <= t_out + self.LATE_DAYS * DAY]
        for item in sorted(late, key=lambda it: (int(f.lot[it[2]]) != lot, it[0])):
            if need <= 1e-6:
                break
            take = min(item[1], need)
            item[1] -= take
            need -= take
            matched.append(int(item[2]))
        return need

    @staticmethod
    def _balanced_nearby(f, ships: list[int], receipts: list[int], owned_by: dict[int, int],
                         t_out: int, grace: int) -> bool:
        """True when a shipment short inside a burst (several shipments of the route within a
        receipt window of it) sits among receipts that add up to every unit shipped around it:
        receipts of a burst that cannot be told apart one by one. Shipments are counted from
        a grace (and a day) before it to two graces after, receipts to three graces after,
        less those that account whole for a shipment outside that span (a route's next
        delivery, shipped and received days after a lost one, is not one of its receipts).
        Within ``BURST_TOLERANCE`` (2 %) of the units shipped: in a dense burst of dozens of
        lines, a few units left over by split and late bookings are an ambiguity."""
        lo, hi = t_out - grace - DAY, t_out + 2 * grace
        burst = [o for o in ships if t_out - grace <= f.t[o] <= t_out + grace]
        sent = sum(float(f.qty[o]) for o in ships if lo <= f.t[o] <= hi)
        got = sum(float(f.qty[i]) for i in receipts
                  if lo <= f.t[i] <= t_out + 3 * grace
                  and not (i in owned_by and not lo <= f.t[owned_by[i]] <= hi))
        return len(burst) > 1 and got >= (1 - TransferNotReceived.BURST_TOLERANCE) * sent - 1e-6

    def _match_whole(self, f, ships: list[int], pool: list[list], pack: float,
                     grace: int) -> tuple[set[int], dict[int, int]]:
        """Match shipments to the receipts that account for them whole: one receipt of the same
        quantity (or of that many packs, a unit mix-up), or two receipts that add up to it (a
        delivery booked in two parts), booked from ``LEAD_S`` before the shipment to
        ``LATE_DAYS`` after. Receipts inside the receipt window first, then the same lot, then
        the closest in time; then a shipment left without one may take a single receipt from
        another shipment that can use a free one instead (``MAX_REASSIGN`` hand-overs at most).
        Used receipts leave the pool."""
        late_s = self.LATE_DAYS * DAY
        cands: list[tuple[int, int, int, int, tuple[int, ...]]] = []
        singles: dict[int, list[tuple[tuple[int, int, int], int]]] = {}
        within: dict[int, list[int]] = {}  # receipt -> shipments whose receipt window holds it
        for o in ships:
            q, t_out, lot = float(f.qty[o]), int(f.t[o]), int(f.lot[o])
            near = [j for j, it in enumerate(pool) if t_out - LEAD_S <= it[0] <= t_out + late_s]
            for j in near:
                # A receipt booked before the shipment is its own only as a whole (the sender
                # typed its dispatch late): it does not reserve a receipt of another quantity
                # that a shipment days earlier is waiting for.
                before = pool[j][0] < t_out
                whole = abs(pool[j][1] - q) < 1e-6 or (pack > 1 and abs(pool[j][1] * pack - q) < 1e-6)
                if pool[j][0] <= t_out + grace and (whole or not before):
                    within.setdefault(j, []).append(o)
            for j in near:
                r = pool[j][1]
                if abs(r - q) < 1e-6 or (pack > 1 and abs(r * pack - q) < 1e-6):
                    cost = (int(pool[j][0] > t_out + grace), int(f.lot[pool[j][2]] != lot),
                            abs(pool[j][0] - t_out))
                    cands.append((*cost, o, (j,)))
                    singles.setdefault(o, []).append((cost, j))
            inside = [j for j in near if pool[j][0] <= t_out + grace]
            for pair_of in (inside, near) if len(near) > len(inside) else (inside,):
                if len(pair_of) > 40:
                    continue
                late_pass = pair_of is near and len(near) > len(inside)
                for a_i, a in enumerate(pair_of):
                    for b in pair_of[a_i + 1:]:
                        is_late = max(pool[a][0], pool[b][0]) > t_out + grace
                        if is_late != late_pass or abs(pool[a][1] + pool[b][1] - q) >= 1e-6:
                            continue
                        other_lot = int(f.lot[pool[a][2]] != lot or f.lot[pool[b][2]] != lot)
                        # A two-part booking costs a day more than a single receipt.
                        cands.append((int(is_late), other_lot,
                                      DAY + max(abs(pool[a][0] - t_out), abs(pool[b][0] - t_out)),
                                      o, (a, b)))
        done: dict[int, tuple[int, ...]] = {}
        owner: dict[int, int] = {}  # receipt -> shipment it was matched to

        def claimed(js: tuple[int, ...], o: int) -> bool:
            """A late receipt stays with a still-unmatched shipment whose own window holds it
            (that shipment may need it as part of a delivery booked in parts)."""
            return any(o2 != o and o2 not in done for j in js for o2 in within.get(j, ()))

        for late, *_, o, js in sorted(cands, key=lambda c: c[:4]):
            if o in done or any(j in owner for j in js) or (late and claimed(js, o)):
                continue
            done[o] = js
            owner.update({j: o for j in js})
        for opts in singles.values():
            opts.sort()

        def take(o: int, seen: set[int], depth: int) -> bool:
            """Give ``o`` a single receipt, handing over at most ``depth`` receipts."""
            for cost, j in singles.get(o, []):
                if j in seen or (cost[0] and claimed((j,), o)):
                    continue
                seen.add(j)
                prev = owner.get(j)
                if prev is not None and (len(done[prev]) > 1 or depth == 0
                                         or not take(prev, seen, depth - 1)):
                    continue
                done[o] = (j,)
                owner[j] = o
                return True
            return False

        for o in ships:
            if o not in done and o in singles:
                take(o, set(), self.MAX_REASSIGN)
        for j in owner:
            pool[j][1] = 0.0
        return set(done), {int(pool[j][2]): o for j, o in owner.items()}

    def _alert(self, ctx: DetectionContext, lines: list[tuple[int, float, list[int]]],
               horizon: np.ndarray) -> AlertDraft:
        """One alert for a lost shipment: its lines of one delivery note (``(row, units
        missing, receipts matched)``); the subject is its first line (the note's first in
        the file: what "the event_id of the transfer_out of the shipment" names when a note
        has several lines)."""
        f = ctx.frame
        o = min(x[0] for x in lines)
        rows = np.array(sorted(x[0] for x in lines), dtype=np.int64)
        matched = sorted({i for x in lines for i in x[2]})
        missing = float(sum(x[1] for x in lines))
        sender, receiver = int(f.est[o]), int(f.counterparty[o])
        shipped = float(f.qty[rows].sum())
        days = ctx.settings.transfer_receipt_days
        eid = f.event_id(o)
        share = missing / shipped if shipped else 1.0
        mme = float(sum(float(ctx.row_mme[r]) * (m / float(f.qty[r]) if f.qty[r] else 1.0)
                        for r, m, _ in lines))
        products = sorted({f.prodv.name(int(f.product[r])) for r in rows})
        units = f"{fmt(shipped)} unidades de {', '.join(products)}"
        what = f"de {units}" if len(rows) == 1 else f"({len(rows)} líneas, {units})"
        summary = (f"El envío {eid} {what} de {f.estv.name(sender)} a {f.estv.name(receiver)} "
                   f"({day_str(int(f.t[o]))}) no fue recibido en {days} días: faltan "
                   f"{fmt(missing)} unidades.")
        return self.draft(
            eid, int(f.t[o]), int(f.t[o]) + days * DAY, 0.55 + 0.25 * share, mme, summary,
            {"sender": f.estv.name(sender), "receiver": f.estv.name(receiver),
             "product_code": f.prodv.name(int(f.product[o])), "units_shipped": shipped,
             "units_received": round(shipped - missing, 4), "units_missing": round(missing, 4),
             "receipt_days": days, "receiver_registered": bool(ctx.registry.est_known[receiver]),
             "receipts_matched": f.event_id_list(matched) if matched else [],
             "lines": [{"event_id": f.event_id(r), "product_code": f.prodv.name(int(f.product[r])),
                        "units_shipped": float(f.qty[r]), "units_missing": round(m, 4)}
                       for r, m, _ in sorted(lines)],
             "due": day_str(int(f.t[o]) + days * DAY),
             "receiver_last_report": _day_or_none(int(horizon[receiver])),
             **f.events(rows)},
            department=ctx.est_department(sender), ubigeo=ctx.registry.est_ubigeo[sender],
        )

    SILENT_SCORE = 30.0  # a low notice: missing reports, not evidence of a diversion

    def _silent_notice(self, ctx: DetectionContext, receiver: int, last: int,
                       items: list[tuple[int, float]]) -> AlertDraft:
        """One low notice per receiver silent for more than ``SILENT_DAYS``: the shipments sent
        to it whose due date lies after its last report cannot be judged."""
        f = ctx.frame
        rows = np.array(sorted(o for o, _ in items), dtype=np.int64)
        units = float(sum(missing for _, missing in items))
        name = f.estv.name(receiver)
        senders = sorted({f.estv.name(int(f.est[o])) for o in rows})
        summary = (f"El establecimiento {name} no reporta movimientos desde {day_str(last)}: "
                   f"{len(rows)} envío(s) de {', '.join(senders)} con {fmt(units)} unidades, "
                   f"vencidos después de esa fecha, no se pueden verificar (reportes faltantes).")
        return self.draft(
            name, last, int(f.t[rows].max()) + ctx.settings.transfer_receipt_days * DAY,
            0.0, float(ctx.row_mme[rows].sum()), summary,
            {"reason": "receiver_silent", "receiver": name, "receiver_last_report": day_str(last),
             "senders": senders, "units_shipped": float(f.qty[rows].sum()),
             "units_unconfirmed": round(units, 4), "shipments": f.event_id_list(rows),
             "receiver_registered": bool(ctx.registry.est_known[receiver]),
             **f.events(rows)},
            department=ctx.registry.est_dept[receiver] or ctx.est_department(receiver),
            ubigeo=ctx.registry.est_ubigeo[receiver], subject_kind="establishment",
            topics=("custody", "compliance"), score=self.SILENT_SCORE,
        )


def _day_or_none(t: int) -> str | None:
    """The day of an epoch second, or None for "never" (the int64 minimum)."""
    return None if t == np.iinfo(np.int64).min else day_str(t)


class SeizureTrace(Detector):
    """A seized unit, lot or serial of a registered medicine traced to its last custodian.

    Serial: the establishment of the last movement before the seizure (the receiver when that
    movement was a shipment). Lot: the establishments that received it, latest first, with what
    each still held on the books at the seizure date. A lot is matched as a person copies it
    off a box (case, and spaces or dashes the ledger's spelling lacks, do not count) and, when
    the seizure names a product the lot never moved under (a GTIN for a registry number), by
    the lot alone. A lot or serial in
    no movement names no custodian: it is a low notice for the early warning.

    Three or more seized serials of one lot traced to one custodian are one leak: one alert on
    the lot (variant ``lot``) naming the custodian and who recorded those units last, each
    serial's alert kept at ``low`` under it.
    """

    name = "seizure_trace"
    title = "Incautación rastreada / Seized lot or serial traced"
    tolerates = (
        "a seized unit of a registered lot is always traced; the alert names the last "
        "custodian, not a culprit. A lot or serial that appears in no movement (counterfeit, "
        "or diverted before it was reported) names no one to inspect and is low."
    )
    subject_kind = "lot"
    topics = ("seizure_trace",)
    evidence_fields = ("seizure_id", "last_custodian", "custodians", "chain")
    # A lot or serial found in no movement names no custodian: a low notice (the early
    # warning's ews_seized_registry_product carries the seizure itself).
    UNTRACED_SCORE = 30.0

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        if ctx.realtime:
            return []
        start = ctx.now - dt.timedelta(days=ctx.lookback_days)
        seizures = session.scalars(
            select(Seizure).where(Seizure.occurred_at <= ctx.now, Seizure.occurred_at >= start,
                                  (Seizure.lot.is_not(None)) | (Seizure.serial.is_not(None)))
        ).all()
        f = ctx.frame
        self._inbound = f.is_type(*INBOUND)
        self._count = f.is_type("count")
        self._shipped = f.is_type("transfer_out", "export")
        out = []
        traced: list[tuple[int, np.ndarray, Seizure]] = []  # serial alerts and their rows
        for s in seizures:
            t_s = to_epoch(s.occurred_at)
            prod = f.prodv.code(s.product_code) if s.product_code else None
            if s.serial:
                kind, subject, vocab, column = "serial", s.serial, f.serialv, f.serial
            elif s.lot:
                kind, subject, vocab, column = "lot", s.lot, f.lotv, f.lot
            else:
                continue
            before = f.t <= t_s
            mask = _code_mask(vocab, column, subject)
            rows = np.flatnonzero(mask & before & (f.product == prod)) if prod is not None \
                else np.flatnonzero(mask & before)
            loose = False
            if len(rows) == 0 and prod is not None:
                # The seizure names the product as the police read it off the box (a GTIN
                # for a registry number, a sister presentation): the lot still identifies it.
                rows = np.flatnonzero(mask & before)
                loose = len(rows) > 0
            out.append(self._trace(ctx, s, kind, subject, rows, t_s, loose))
            if kind == "serial" and len(rows):
                traced.append((len(out) - 1, rows, s))
        return out + self._roll_up(ctx, out, traced)

    ROLL_UP_MIN = 3  # seized serials of one lot traced to one custodian: one alert on the lot

    def _roll_up(self, ctx: DetectionContext, drafts: list[AlertDraft],
                 traced: list[tuple[int, np.ndarray, Seizure]]) -> list[AlertDraft]:
        """Seized units of one lot traced to one custodian (``ROLL_UP_MIN`` or more serials):
        one alert on the lot, naming the custodian and who recorded those units last; each
        serial's alert is kept at ``low`` under it (one leak, one alert)."""
        f = ctx.frame
        by_lot: dict[tuple[int, str], list[tuple[int, np.ndarray, Seizure]]] = {}
        for item in traced:
            i, rows, _s = item
            lots = f.lot[rows]
            lots = lots[lots >= 0]
            if len(lots) == 0:
                continue
            lot = int(np.bincount(lots).argmax())
            custodian = str(drafts[i].evidence.get("last_custodian"))
            by_lot.setdefault((lot, custodian), []).append(item)
        extra = []
        for (lot, custodian), items in sorted(by_lot.items()):
            if len(items) < self.ROLL_UP_MIN:
                continue
            name = f.lotv.name(lot)
            rows = np.unique(np.concatenate([r for _i, r, _s in items]))
            # The last record of each seized unit and who made it (the unit left the books there).
            lasts = [int(r[np.argmax(f.t[r])]) for _i, r, _s in items]
            hands: dict[str, int] = {}
            for j in lasts:
                if f.professional[j] >= 0:
                    who = f.profv.name(int(f.professional[j]))
                    hands[who] = hands.get(who, 0) + 1
            named = sorted(hands, key=lambda w: (-hands[w], w))
            seized = sorted({s.seizure_id for _i, _r, s in items})
            agencies = sorted({s.agency for _i, _r, s in items if s.agency})
            when = [to_epoch(s.occurred_at) for _i, _r, s in items]
            mme = float(sum(float(drafts[i].evidence.get("mme") or 0.0) for i, _r, _s in items))
            top = (f" La última anotación de {hands[named[0]]} de ellas es de {named[0]}."
                   if named else "")
            summary = (f"{len(items)} unidades serializadas del lote {name} incautadas "
                       f"({', '.join(agencies) or 'autoridad'}, {day_str(min(when))}"
                       + (f" a {day_str(max(when))}" if max(when) - min(when) >= DAY else "")
                       + f") se rastrean a su último custodio registrado, {custodian}.{top}")
            est = f.estv.code(custodian)
            extra.append(self.draft(
                name, int(f.t[rows].min()), max(when), 0.97, mme, summary,
                {"reason": "seized_serials", "lot": name, "last_custodian": custodian,
                 "serial_count": len(items),
                 "serials": sorted(drafts[i].subject_id for i, _r, _s in items)[:50],
                 "seizure_ids": seized[:50], "last_handlers": [
                     {"professional_id": w, "units": hands[w]} for w in named[:10]],
                 **f.events(rows)},
                department=ctx.registry.est_dept[est] if est >= 0 else None,
                ubigeo=ctx.registry.est_ubigeo[est] if est >= 0 else None,
                subject_kind="lot", variant="lot"))
            for i, _r, _s in items:
                drafts[i] = grouped(drafts[i], f"; se agrupa en la alerta del lote {name}.",
                                    {"grouped_under_lot": name})
        return extra

    def _trace(self, ctx: DetectionContext, s: Seizure, kind: str, subject: str,
               rows: np.ndarray, t_s: int, loose: bool = False) -> AlertDraft:
        f, reg = ctx.frame, ctx.registry
        dept = s.ubigeo[:2] if s.ubigeo else None
        units = float(s.units or 1.0)
        if len(rows) == 0:
            # No custodian in the ledger: nothing here names an establishment or a person to
            # inspect. It is a notice for the early warning (counterfeit, or diverted before
            # it was ever reported), not a diversion finding against a subject.
            summary = (f"El {('lote' if kind == 'lot' else 'número de serie')} {subject} incautado "
                       f"({s.agency}, {s.occurred_at.date()}) no aparece en ningún movimiento registrado: "
                       f"posible falsificación o desvío antes del registro.")
            return self.draft(subject, t_s, t_s, 0.6, 0.0, summary,
                              {"seizure_id": s.seizure_id, "traced": False, "last_custodian": None,
                               "seized_units": s.units, "event_ids": [], "event_count": 0},
                              department=dept, ubigeo=s.ubigeo, subject_kind=kind,
                              score=self.UNTRACED_SCORE)
        rows = rows[np.argsort(f.t[rows], kind="stable")]
        sign = np.select([self._inbound[rows], self._count[rows]], [1.0, 0.0], -1.0)
        balance: dict[int, float] = {}
        for i, sg in zip(rows, sign, strict=True):
            balance[int(f.est[i])] = balance.get(int(f.est[i]), 0.0) + sg * float(f.qty[i])
        last = int(rows[-1])
        custodian = int(f.est[last])
        if self._shipped[last] and f.counterparty[last] >= 0:
            custodian = int(f.counterparty[last])
        if kind == "lot":
            holders = sorted((e for e, b in balance.items() if b > 1e-6), key=lambda e: -balance[e])
            if holders:
                latest_in = {int(f.est[i]): int(f.t[i]) for i in rows if self._inbound[i]}
                custodian = max(holders, key=lambda e: latest_in.get(e, 0))
        chain = [{"event_id": f.event_id(i), "event_type": _etype(f, i),
                  "establishment_id": f.estv.name(int(f.est[i])), "date": day_str(int(f.t[i]))}
                 for i in rows[-10:]]
        unit_mme = float(ctx.row_mme[last] / f.qty[last]) if f.qty[last] else 0.0
        name = f.estv.name(custodian)
        summary = (f"{'El lote' if kind == 'lot' else 'La unidad con serie'} {subject} incautado por "
                   f"{s.agency} el {s.occurred_at.date()} se rastrea hasta su último custodio "
                   f"registrado, {name}.")
        return self.draft(
            subject, int(f.t[last]), t_s, 0.95, unit_mme * units, summary,
            {"seizure_id": s.seizure_id, "traced": True, "last_custodian": name,
             "custodians": [{"establishment_id": f.estv.name(e), "units_on_books": round(b, 3)}
                            for e, b in sorted(balance.items(), key=lambda kv: -kv[1])[:10]],
             "seized_units": s.units, "chain": chain,
             **({"matched_without_product": True} if loose else {}), **f.events(rows)},
            department=reg.est_dept[custodian] if custodian >= 0 else dept,
            ubigeo=reg.est_ubigeo[custodian] if custodian >= 0 else s.ubigeo, subject_kind=kind,
        )


def _code_mask(vocab, column: np.ndarray, value: str) -> np.ndarray:
    """Rows whose lot (or serial) is ``value`` in any of the spellings the seized frame was
    read with (``window.lot_spellings``: case, spaces and dashes as a person copies them)."""
    codes = [c for c in (vocab.code(v) for v in lot_spellings(value)) if c >= 0]
    return np.isin(column, codes)


def _etype(f, i: int) -> str:
    from centinela.ledger.records import EVENT_TYPES

    return EVENT_TYPES[int(f.etype[i])]
