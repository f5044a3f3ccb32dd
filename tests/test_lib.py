"""The pure helpers of ``centinela.lib``: one clock, one text folding, one geo."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from centinela.lib import clock
from centinela.lib.geo import haversine_km, haversine_matrix
from centinela.lib.text import fold, fold_keep_enye


def test_a_time_without_offset_is_lima_and_storage_is_naive_utc():
    assert clock.parse_time("2025-03-14T09:30:00") == dt.datetime(2025, 3, 14, 14, 30)
    assert clock.parse_time("2025-03-14T09:30:00-05:00") == dt.datetime(2025, 3, 14, 14, 30)
    assert clock.parse_time("2025-03-14T14:30:00Z") == dt.datetime(2025, 3, 14, 14, 30)
    assert clock.parse_time(" 2025-03-14 ") == dt.datetime(2025, 3, 14, 5)  # Lima midnight
    with pytest.raises(ValueError):
        clock.parse_time("14/03/2025")


def test_lima_day_midnight_and_rendering():
    late = dt.datetime(2025, 3, 15, 3, 0)  # 22:00 in Lima on the 14th
    assert clock.lima_day(late) == dt.date(2025, 3, 14)
    assert clock.lima_midnight(dt.date(2025, 3, 14)) == dt.datetime(2025, 3, 14, 5)
    assert clock.lima_days(dt.date(2025, 3, 14), 2) == (
        dt.datetime(2025, 3, 14, 5), dt.datetime(2025, 3, 16, 4, 59, 59))
    assert clock.lima_iso(late) == "2025-03-14T22:00:00-05:00"
    assert clock.to_utc(clock.to_lima(late)) == late
    assert clock.utcnow().tzinfo is None


def test_folding():
    assert fold("  Fentanílo\u200b  AÑO ") == "fentanilo ano"
    assert fold_keep_enye("Año\nNUEVO  ") == "año nuevo"


def test_distances():
    lima, cusco = (-12.0464, -77.0428), (-13.5320, -71.9675)
    km = haversine_km(*lima, *cusco)
    assert 570 < km < 590
    m = haversine_matrix(np.array([lima[0], cusco[0]]), np.array([lima[1], cusco[1]]))
    assert m[0, 1] == pytest.approx(km) and m[0, 0] == 0
