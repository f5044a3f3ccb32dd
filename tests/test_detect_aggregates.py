"""History as database aggregates (``centinela.detect.aggregates``), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np

from centinela.detect.aggregates import History, grouped
from centinela.detect.context import DetectionContext
from centinela.detect.frame import Vocab, load_frame, to_epoch
from centinela.detect.util import month_index
from centinela.ledger.records import Movement
from tests.detect_factory import FENT_AMP, MORPH_TAB, base_products, est, mv

FEB, MAR, APR = (month_index(np.array([to_epoch(dt.datetime(2024, m, 15))]))[0] for m in (2, 3, 4))


def _world(session) -> dict[str, dt.datetime]:
    base_products(session)
    est(session, "EST-A")
    est(session, "EST-B")
    at = {
        # 03:00 UTC on 1 March is still 29 February in Lima.
        "feb_lima": dt.datetime(2024, 3, 1, 3, 0),
        "mar": dt.datetime(2024, 3, 1, 6, 0),
        "mar_dispense": dt.datetime(2024, 3, 10, 12, 0),
        "mar_b": dt.datetime(2024, 3, 15, 12, 0),
        "apr": dt.datetime(2024, 4, 1, 5, 0),  # the first instant of April in Lima
    }
    mv(session, "receipt", "EST-A", FENT_AMP, 10, at["feb_lima"])
    mv(session, "receipt", "EST-A", FENT_AMP, 5, at["mar"])
    mv(session, "dispense", "EST-A", FENT_AMP, 2, at["mar_dispense"], patient_id="PAT-1")
    mv(session, "receipt", "EST-B", MORPH_TAB, 7, at["mar_b"])
    mv(session, "receipt", "EST-A", FENT_AMP, 100, at["apr"])
    session.flush()
    return at


def _cells(g) -> dict[tuple, tuple[float, int, int]]:
    cols = list(g.keys)
    out = {}
    for i in range(len(g)):
        key = tuple(g.keys[c][i] for c in cols) + ((int(g.month[i]),) if g.month is not None else ())
        out[key] = (float(g.qty[i]), int(g.rows[i]), int(g.first_t[i]))
    return out


def test_monthly_cells_use_lima_months_and_stop_at_the_frame(session):
    at = _world(session)
    until = at["apr"]
    conn = session.connection()
    g = grouped(conn, None, until, ("establishment", "product", "event_type"), ("receipt",),
                monthly=True)
    assert _cells(g) == {
        ("EST-A", FENT_AMP, "receipt", FEB): (10.0, 1, to_epoch(at["feb_lima"])),
        ("EST-A", FENT_AMP, "receipt", MAR): (5.0, 1, to_epoch(at["mar"])),
        ("EST-B", MORPH_TAB, "receipt", MAR): (7.0, 1, to_epoch(at["mar_b"])),
    }  # the April receipt is in the frame, not in the history
    # Totals without months, every event type; an extra condition; a lower bound.
    assert _cells(grouped(conn, None, until, ("establishment",))) == {
        ("EST-A",): (17.0, 3, to_epoch(at["feb_lima"])), ("EST-B",): (7.0, 1, to_epoch(at["mar_b"]))}
    only_b = grouped(conn, None, until, ("product",), where=Movement.establishment_id == "EST-B")
    assert _cells(only_b) == {(MORPH_TAB,): (7.0, 1, to_epoch(at["mar_b"]))}
    later = grouped(conn, at["mar"], until, ("establishment",))
    assert _cells(later)[("EST-A",)][:2] == (7.0, 2)
    # Empty grouping columns come back as None (the caller filters, as the frame's -1).
    assert _cells(grouped(conn, None, until, ("patient",), ("dispense",))) == {
        ("PAT-1",): (2.0, 1, to_epoch(at["mar_dispense"]))}
    assert None in grouped(conn, None, until, ("patient",)).keys["patient"]


def test_history_caches_and_narrows_to_months(session):
    at = _world(session)
    hist = History(session.connection(), None, at["apr"])
    assert hist.raw_month == APR  # the frame starts on April's first instant
    assert History(session.connection(), None, at["mar_b"]).raw_month == APR  # March is split
    a = hist.grouped(("establishment", "product"), ("receipt",), monthly=True)
    assert hist.grouped(("establishment", "product"), ("receipt",), monthly=True) is a
    march = hist.grouped(("establishment", "product"), ("receipt",), monthly=True, first_month=MAR)
    assert sorted(march.month.tolist()) == [MAR, MAR]
    assert len(hist.grouped(("establishment",), first_month=APR)) == 0  # nothing before until
    # Codes in the frame's vocabulary; names it does not know get codes past it, unchanged.
    v = Vocab()
    v.encode(["EST-B"])
    codes = a.codes("establishment", v)
    names = a.extra_names("establishment", v)
    assert names == ["EST-A"] and len(v) == 1
    assert sorted(set(codes.tolist())) == [0, 1]


def test_the_context_splits_raw_frame_and_aggregated_history(session):
    """Before the frame, the aggregates hold exactly what a frame of that range would hold;
    the month the frame starts in is split between them."""
    _world(session)
    now = dt.datetime(2024, 4, 10, 12, 0)
    ctx = DetectionContext(session, now, lookback_days=10, history_days=5, aggregate_days=60)
    assert ctx.since == now - dt.timedelta(days=15)
    assert ctx.history is not None and ctx.history.until == ctx.since
    assert ctx.history.since == now - dt.timedelta(days=70)
    assert ctx.history.raw_month == APR
    assert ctx.frame.n == 1  # the April receipt; the rest is history
    raw = load_frame(session.connection(), Movement.occurred_at < ctx.since)
    g = ctx.history.grouped(("establishment",), monthly=True)
    assert int(g.rows.sum()) == raw.n == 4 and float(g.qty.sum()) == float(raw.qty.sum())
    assert _cells(g) == {("EST-A", FEB): (10.0, 1, to_epoch(dt.datetime(2024, 3, 1, 3, 0))),
                         ("EST-A", MAR): (7.0, 2, to_epoch(dt.datetime(2024, 3, 1, 6, 0))),
                         ("EST-B", MAR): (7.0, 1, to_epoch(dt.datetime(2024, 3, 15, 12, 0)))}
    # Without aggregate days (or with a given where/frame) there is no split.
    plain = DetectionContext(session, now, lookback_days=10, history_days=5)
    assert plain.history is None and plain.since == now - dt.timedelta(days=15)


def test_event_ids_are_found_by_their_rows_time_span_rounded_or_not(session):
    # ``Frame.event_id_list`` bounds its query by the rows' own times (PostgreSQL then reads
    # their months only). Epoch seconds are rounded on PostgreSQL: a movement at .7 s is
    # still found; and a row whose time in the frame is not its own falls back to no bound.
    base_products(session)
    est(session, "EST-A")
    mv(session, "receipt", "EST-A", FENT_AMP, 10, dt.datetime(2024, 3, 1, 3, 0, 0, 700000),
       event_id="EV-FRACTION")
    mv(session, "receipt", "EST-A", FENT_AMP, 5, dt.datetime(2024, 6, 1, 3, 0), event_id="EV-JUNE")
    session.flush()
    f = load_frame(session.connection())
    by_id = {f.event_id(i): i for i in range(f.n)}
    assert set(by_id) == {"EV-FRACTION", "EV-JUNE"}
    g = load_frame(session.connection())
    g.t = g.t.copy()
    g.t[:] = to_epoch(dt.datetime(2030, 1, 1))  # times that are nobody's
    assert sorted(g.event_id_list(np.arange(g.n))) == ["EV-FRACTION", "EV-JUNE"]
