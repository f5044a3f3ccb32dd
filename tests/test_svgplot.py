"""The SVG chart layout: round ticks, measured margins, thinned and clamped date labels."""

from __future__ import annotations

import re

from centinela.web.chartspec import ChartPoint, ChartSeries, ChartSpec, RefLine
from centinela.web.svgplot import nice_ticks, render, text_width


def test_nice_ticks_cover_the_top_with_round_steps():
    assert nice_ticks(374_848) == [0, 100_000, 200_000, 300_000, 400_000]
    assert nice_ticks(3.2) == [0, 1, 2, 3, 4]
    assert nice_ticks(0)[0] == 0 and len(nice_ticks(0)) >= 2


def _spec(n_days: int, top: float) -> ChartSpec:
    keys = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(n_days)]
    pts = [ChartPoint(key=k, value=top * (i % 7) / 6) for i, k in enumerate(keys)]
    pts[-1].partial = True
    return ChartSpec(key="t", title="t", unit_label="MME por día", period="day", keys=keys,
                     series=[ChartSeries(name="MME", mark="line", points=pts)],
                     refs=[RefLine(value=90, label="90 MME/día (umbral de alto riesgo)")],
                     window=(keys[10], keys[-1]), window_label="ventana de la alerta",
                     partial_note=" (incompleto)")


def test_labels_stay_inside_and_ticks_never_overlap_at_phone_width():
    for width in (360, 720):
        svg = str(render(_spec(200, 1_374_848), width))
        texts = re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="([\d.]+)" '
                           r'text-anchor="(\w+)"[^>]*>([^<]*)</text>', svg)
        ticks = []
        for x, size, anchor, body in texts:
            w = text_width(body, float(size))
            left = float(x) - {"start": 0, "middle": w / 2, "end": w}[anchor]
            # The legend is drawn in a translated group: its x is still absolute.
            assert left >= 0 and left + w <= width + 0.5, (width, body)
        for m in re.finditer(r'<text x="([\d.]+)"[^>]*class="x-tick">([^<]*)</text>', svg):
            w = text_width(m.group(2))
            ticks.append((float(m.group(1)) - w / 2, float(m.group(1)) + w / 2))
        assert all(b[0] >= a[1] for a, b in zip(ticks, ticks[1:], strict=False))
        assert ",374,848" not in svg
        assert "1,5\u00a0M" in svg  # compact y labels (es-PE)


def test_partial_points_are_hollow_and_named_in_the_legend():
    svg = str(render(_spec(40, 120), 720))
    assert 'class="pt partial"' in svg and "incompleto" in svg
    assert 'class="window"' in svg and 'class="ref"' in svg
