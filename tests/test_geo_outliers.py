"""Geographic outliers on small hand-made data: the method, the CSV reader and the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from centinela.cli import app
from centinela.geo.outliers import kish_effective, outliers
from centinela.geo.tables import GeoInputError, read_tables

# Yearly MME of typical patients: short courses, chronic tablets, a 25 mcg/h patch (~21 900).
AMOUNTS = np.array([300, 900, 1500, 2400, 4000, 6000, 9000, 14000, 21900])


def country(seed=7, periods=2, excess_factor=4.0):
    """Return {region: {period: quantity}}, populations, and the two special regions.

    60 ordinary regions of 3 000–600 000 residents, ~1 patient per 10 000 residents a year, each
    region with its own legitimate level (log-normal, sd 0.25); ``TINY`` has 2 000 residents and a
    single patient on patches; ``EXCESS`` (200 000 residents) has ``excess_factor`` × the patients.
    """
    rng = np.random.default_rng(seed)
    pops = {f"R{i:02d}": int(p) for i, p in enumerate(np.exp(rng.uniform(np.log(3e3), np.log(6e5), 60)))}
    pops["TINY"] = 2000
    pops["EXCESS"] = 200_000
    level = {r: float(np.exp(rng.normal(0, 0.25))) for r in pops}
    level["EXCESS"] = excess_factor
    qty = {}
    for r, p in pops.items():
        for t in range(periods):
            if r == "TINY":
                qty[(r, t)] = 21900.0 if t == 0 else 0.0
                continue
            n = rng.poisson(p / 10_000 * level[r])
            qty[(r, t)] = float(rng.choice(AMOUNTS, n).sum())
    return qty, pops


def arrays(qty, pops, periods=2):
    regions = sorted(pops)
    y = np.array([sum(qty[(r, t)] for t in range(periods)) for r in regions])
    n = np.array([pops[r] * periods for r in regions], dtype=float)
    return regions, y, n


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_tiny_place_with_one_heavy_patient_is_not_flagged_but_a_real_excess_is(seed):
    qty, pops = country(seed)
    regions, y, n = arrays(qty, pops)
    res = outliers(y, n)
    i_tiny, i_exc = regions.index("TINY"), regions.index("EXCESS")
    raw_top = regions[int(np.argmax(y / n))]
    assert raw_top == "TINY"  # the raw per-capita map puts it at the top of the country
    assert not res.flagged[i_tiny]
    assert res.rank[i_tiny] > 1
    assert res.smoothed_rate[i_tiny] < 0.5 * res.rate[i_tiny]  # shrunk towards its expectation
    assert res.flagged[i_exc]
    assert res.rank[i_exc] == 1
    assert res.flagged.sum() <= 2  # ordinary regions stay quiet
    assert res.ratio[i_exc] > 2.5


def test_nothing_is_flagged_in_an_ordinary_country():
    qty, pops = country(11, excess_factor=1.0)
    regions, y, n = arrays(qty, pops)
    res = outliers(y, n)
    assert res.flagged.sum() == 0
    assert np.all(res.p_value <= 1) and np.all(res.q_value >= res.p_value - 1e-12)


def test_effective_counts_protect_a_single_patient_whatever_the_dose():
    # Patient-level data: one patient is one effective unit, however large the dose.
    y = np.array([50_000.0] + [1000.0 * k for k in range(1, 41)])
    n = np.array([2000.0] + [100_000.0 * k for k in range(1, 41)])
    eff = np.array([1.0] + [100.0 * k for k in range(1, 41)])
    res = outliers(y, n, effective=eff)
    assert not res.flagged[0]
    assert kish_effective({"a": np.array([1.0, 1.0, 1.0, 1.0]), "b": np.array([10.0])}) == {"a": 4.0, "b": 1.0}


def test_covariates_explain_a_referral_hospital():
    # Use proportional to beds: a district with a big referral hospital is expected to use more.
    rng = np.random.default_rng(3)
    m = 80
    n = rng.uniform(2e4, 2e5, m)
    beds = rng.uniform(0.2, 2.0, m)  # per 1 000 residents
    beds[0] = 12.0  # national referral hospital
    y = rng.poisson(n / 1000 * beds * 5).astype(float)
    # Counts of patients: independent events, dispersion 1.
    plain = outliers(y, n, dispersion=1.0)
    adjusted = outliers(y, n, covariates=np.log(beds)[:, None], dispersion=1.0)
    assert plain.flagged[0]
    assert not adjusted.flagged[0]
    assert adjusted.params["beta"][1] == pytest.approx(1.0, abs=0.25)


def write_inputs(tmp_path, qty, pops, periods=2):
    c = tmp_path / "counts.csv"
    p = tmp_path / "pop.csv"
    c.write_text("region,period,quantity,name\n" + "".join(
        f"{r},{2024 + t},{q},Lugar {r}\n" for (r, t), q in sorted(qty.items())), encoding="utf-8")
    p.write_text("region;period;population\n" + "".join(
        f"{r};{2024 + t};{pops[r]}\n" for r in sorted(pops) for t in range(periods)), encoding="utf-8")
    return c, p


def test_cli_json_lines(tmp_path):
    qty, pops = country(2)
    c, p = write_inputs(tmp_path, qty, pops)
    r = CliRunner().invoke(app, ["geo", "outliers", "--counts", str(c), "--population", str(p), "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert len(rows) == len(pops)
    for key in ("region", "name", "rate", "expected", "smoothed_rate", "score", "flagged", "rank"):
        assert all(key in row for row in rows)
    assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
    by = {row["region"]: row for row in rows}
    assert by["EXCESS"]["flagged"] and by["EXCESS"]["rank"] == 1 and by["EXCESS"]["name"] == "Lugar EXCESS"
    assert not by["TINY"]["flagged"]
    # rate = quantity per resident per period
    assert by["TINY"]["rate"] == pytest.approx(21900 / (2000 * 2), rel=1e-5)
    assert sum(row["flagged"] for row in rows) <= 2
    text = CliRunner().invoke(app, ["geo", "outliers", "--counts", str(c), "--population", str(p)])
    assert text.exit_code == 0 and "EXCESS" in text.output


@pytest.mark.parametrize("counts,pop,message", [
    ("region,period,quantity\nA,2024,12\nB,2024,x\n", "region,period,population\nA,2024,100\nB,2024,50\n",
     "counts.csv:3: quantity 'x' is not a number"),
    ("region,period,quantity\nA,2024,-1\n", "region,period,population\nA,2024,100\n",
     "counts.csv:2: quantity '-1' must be a finite number ≥ 0"),
    ("region,period,qty\nA,2024,1\n", "region,period,population\nA,2024,100\n",
     "counts.csv:1: missing column(s) quantity"),
    ("region,period,quantity\nA,2024,1\nC,2024,1\n", "region,period,population\nA,2024,100\n",
     "counts.csv:3: no population for region C period '2024'"),
    ("region,period,quantity\nA,2024,1\n", "region,period,population\nA,2024,100\nA,2024,90\n",
     "pop.csv:3: region A period '2024' repeated (first on line 2)"),
    ("region,period,quantity\nA,2024,1\n", "region,period,population\nA,2024,0\n",
     "pop.csv:2: population '0' must be a finite number > 0"),
    ("region,period,quantity\nA,2024,1,extra\n", "region,period,population\nA,2024,10\n",
     "counts.csv:2: 4 fields, the header has 3"),
    ("", "region,period,population\nA,2024,10\n", "counts.csv:1: empty file"),
])
def test_bad_input_says_where_and_why(tmp_path, counts, pop, message):
    c, p = tmp_path / "counts.csv", tmp_path / "pop.csv"
    c.write_text(counts, encoding="utf-8")
    p.write_text(pop, encoding="utf-8")
    with pytest.raises(GeoInputError) as exc:
        read_tables(c, p)
    assert message in str(exc.value)
    r = CliRunner().invoke(app, ["geo", "outliers", "--counts", str(c), "--population", str(p), "--json"])
    assert r.exit_code == 2 and message in r.output


def test_periods_without_counts_are_ignored_and_zero_regions_kept(tmp_path):
    c, p = tmp_path / "c.csv", tmp_path / "p.csv"
    c.write_text("\ufeffregion,period,quantity\n010101,2025,10\n010101,2025,5\n", encoding="utf-8")
    p.write_text("region,period,population\n010101,2025,1000\n010102,2025,500\n010101,2024,990\n",
                 encoding="utf-8")
    t = read_tables(c, p)
    assert t.regions == ["010101", "010102"]  # leading zeros kept
    assert list(t.quantity) == [15.0, 0.0] and list(t.exposure) == [1000.0, 500.0]


def test_semicolon_files_with_decimal_commas_and_a_given_dispersion(tmp_path):
    c, p = tmp_path / "c.csv", tmp_path / "p.csv"
    rows = [(f"R{i:02d}", 100.0 + (i % 7)) for i in range(40)] + [("HOT", 400.0)]
    c.write_text("region;period;quantity\n" + "".join(f"{r};2025;{q:.1f}".replace(".", ",") + "\n"
                                                     for r, q in rows), encoding="utf-8")
    p.write_text("region;period;population\n" + "".join(f"{r};2025;10000\n" for r, _ in rows),
                 encoding="utf-8")
    t = read_tables(c, p)
    assert t.quantity[t.regions.index("R01")] == pytest.approx(101.0)
    r = CliRunner().invoke(app, ["geo", "outliers", "--counts", str(c), "--population", str(p),
                                 "--dispersion", "1", "--json"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.output.splitlines()[0])
    assert first["region"] == "HOT" and first["flagged"]
    assert sum(json.loads(line)["flagged"] for line in r.output.splitlines()) == 1


def test_missing_values_leave_the_region_period_out(tmp_path):
    c, p = tmp_path / "c.csv", tmp_path / "p.csv"
    c.write_text("region,period,quantity\nA,2024,10\nA,2025,NA\nB,2024,4\nB,2025,6\n", encoding="utf-8")
    p.write_text("region,period,population\nA,2024,100\nA,2025,100\nB,2024,50\nB,2025,\n",
                 encoding="utf-8")
    t = read_tables(c, p)
    assert list(t.quantity) == [10.0, 4.0] and list(t.exposure) == [100.0, 50.0]
    assert t.notes and "2 region-period(s)" in t.notes[0] and "c.csv:3" in t.notes[0]


@pytest.mark.parametrize("text,value", [("1234.5", 1234.5), ("1,234,567", 1234567.0),
                                        ("1.234.567,8", 1234567.8), ("12,5", 12.5),
                                        ("1,234", 1234.0), ("0,125", 0.125), ("1 234", 1234.0),
                                        ("1,234.5", 1234.5)])
def test_numbers_with_common_separators(text, value):
    from centinela.geo.tables import parse_number

    assert parse_number(text) == pytest.approx(value)
