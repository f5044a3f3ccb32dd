"""An import made with another pseudonym key than the stored patients' is refused."""

from __future__ import annotations

import pytest

from centinela.config import get_settings
from centinela.ingest.service import IntakeError, import_directory
from centinela.privacy import key_digest


def _write(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "establishments.csv").write_text(
        "establishment_id,name,kind,sector,ubigeo,authorized_controlled\n"
        "EST-1,Botica Uno,pharmacy,private,150101,true\n", encoding="utf-8")
    (folder / "products.csv").write_text(
        "product_code,name,substance,dosage_form,strength_mg_per_unit\n"
        "FEN-P25,Fentanilo parche 25 mcg/h,fentanyl,patch,4.2\n", encoding="utf-8")
    (folder / "professionals.csv").write_text(
        "professional_id,role,full_name\nCMP-1,prescriber,Dra. Uno\n", encoding="utf-8")
    (folder / "movements.csv").write_text(
        "event_id,event_type,occurred_at,establishment_id,product_code,quantity,patient_id,"
        "prescription_id,prescriber_id\n"
        + "".join(f"E{i},dispense,2025-03-0{i}T10:00:00-05:00,EST-1,FEN-P25,10,DNI:4455667{i},"
                  f"RX-{i},CMP-1\n" for i in rows), encoding="utf-8")


def test_a_second_key_is_refused_and_nothing_is_stored(engine, tmp_path, monkeypatch):
    from sqlalchemy import func, select

    from centinela.db import session_scope
    from centinela.ledger.records import Movement

    _write(tmp_path / "a", [1, 2])
    import_directory(engine, tmp_path / "a", channel="cli")
    _write(tmp_path / "b", [3, 4])
    monkeypatch.setattr(get_settings(), "pseudonym_key", "another-key-" + "x" * 32)
    with pytest.raises(IntakeError, match="pseudonym key is not the one"):
        import_directory(engine, tmp_path / "b", channel="cli")
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Movement)) == 2
    monkeypatch.undo()
    import_directory(engine, tmp_path / "b", channel="cli")  # the right key: accepted
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Movement)) == 4


def test_the_digest_tells_keys_apart_and_never_contains_the_key():
    a, b = key_digest("k" * 40), key_digest("j" * 40)
    assert a != b and len(a) == 32 and "k" * 8 not in a
