"""Law 32250 tiers: thresholds from the data file, mass from the lab or from the registry."""

import pytest

from centinela.ews.tiers import TierError, law, tier


@pytest.mark.parametrize("mass,expected,article", [
    (0.5, "attenuated", "298"), (1.0, "attenuated", "298"), (1.0001, "basic", "296"),
    (3.0, "basic", "296"), (3.01, "aggravated", "297"), (5000, "aggravated", "297"),
])
def test_thresholds_and_citations(mass, expected, article):
    r = tier(net_mass_mg=mass, purity_percent=100)
    assert r.tier == expected and article in r.article
    d = r.as_dict()
    assert "no constituye asesoría legal" in d["disclaimer_es"]
    assert "not legal advice" in d["disclaimer_en"]


def test_penalty_ranges_come_from_the_data_file():
    by = {t["tier"]: t for t in law()["tiers"]}
    assert by["attenuated"]["penalty_years"] == [3, 7]
    assert by["basic"]["penalty_years"] == [8, 15]
    assert by["aggravated"]["penalty_years"] == [15, 25]
    assert tier(net_mass_mg=10).penalty_years == (15, 25)


def test_purity_is_applied_and_stated():
    r = tier(net_mass_mg=4.0, purity_percent=20)
    assert r.mass_mg == pytest.approx(0.8) and r.tier == "attenuated"
    assert "× purity 20%" in r.mass_basis
    raw = tier(net_mass_mg=4.0)
    assert raw.tier == "aggravated" and "purity not reported" in raw.mass_basis
    assert any("purity unknown" in n for n in raw.notes)


def test_units_times_registry_strength():
    # 20 ampoules of fentanyl 0.05 mg/mL x 2 mL = 2 mg
    r = tier(units=20, strength_mg_per_unit=0.1)
    assert r.mass_mg == pytest.approx(2.0) and r.tier == "basic"
    assert "registry product strength" in r.mass_basis


def test_not_fentanyl_and_missing_data():
    assert not tier(net_mass_mg=5, fentanyl_class=False).applies
    with pytest.raises(TierError, match="need net_mass_mg"):
        tier(units=3)
    with pytest.raises(TierError, match="purity_percent"):
        tier(net_mass_mg=1, purity_percent=0)
