"""The typed description of an alert chart (the page draws it as SVG; the API returns it)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from centinela.web.fmt import format_date, format_month


class ChartPoint(BaseModel):
    key: str  # "YYYY-MM" or "YYYY-MM-DD"
    value: float | None
    partial: bool = False  # a period the data does not cover completely (never a false crash)


class ChartSeries(BaseModel):
    name: str
    mark: str = "bar"  # "bar" or "line"
    points: list[ChartPoint]
    color: str | None = None
    dashed: bool = False


class RefLine(BaseModel):
    value: float
    label: str
    color: str | None = None


class Band(BaseModel):
    low: float
    high: float
    label: str


class Marker(BaseModel):
    key: str
    label: str


class CompareBar(BaseModel):
    label: str
    value: float
    role: str = "subject"  # "subject", "peer" or "expected"


class ChartSpec(BaseModel):
    """One chart: ``time`` (bars/lines per month or day) or ``compare`` (subject vs peers)."""

    key: str
    kind: str = "time"
    lang: str = "es"
    title: str
    caption: str = ""
    unit_label: str
    unit_short: str = ""
    x_label: str = ""
    period: str = "month"  # "month" or "day"
    keys: list[str] = []
    series: list[ChartSeries] = []
    refs: list[RefLine] = []
    band: Band | None = None
    window: tuple[str, str] | None = None
    window_label: str = ""
    markers: list[Marker] = []
    partial_note: str = ""
    bars: list[CompareBar] = []

    def tick_label(self, key: str, short: bool = True) -> str:
        """Return the axis text of a period key in the chart's language."""
        if self.period == "month":
            return format_month(key, self.lang, "short" if short else "medium")
        day = dt.date.fromisoformat(key)
        return format_date(day, self.lang, "d MMM" if short else "medium").replace(".", "")
