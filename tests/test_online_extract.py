"""Entity extraction: phones, prices, quantities, payments, handles, URLs and places."""

from __future__ import annotations

from centinela.online.extract import extract, phones
from centinela.reference.places import find_places


def test_phone_formats():
    text = "wsp 987 654 321, +51 912-345-678, 956.111.222, 51944555112 o wa.me/51951002334"
    assert phones(text)[:4] == ["+51987654321", "+51912345678", "+51956111222", "+51944555112"]
    assert "+51951002334" in extract(text).phones
    assert phones("escribe al nueve cuatro siete, tres dos uno, seis cinco cuatro") == ["+51947321654"]
    assert phones("S/ 2,500 por 100mcg, lote 123456") == []


def test_prices():
    ent = extract("S/ 1,200 la caja, S/. 35 c/u, 50 soles, 3 lucas, USD 900, $40 y 12.90 dólares")
    got = {(p["amount"], p["currency"]) for p in ent.prices}
    assert {(1200.0, "PEN"), (35.0, "PEN"), (50.0, "PEN"), (3.0, "PEN"), (900.0, "USD"),
            (40.0, "USD"), (12.9, "USD")} <= got


def test_quantities_and_forms():
    ent = extract("caja x 50 amp de 0.1 mg/2 ml, 3 parches de 50 mcg, 10 pastillas, 2 frascos")
    forms = {(q["amount"], q["unit"]) for q in ent.quantities}
    assert {(50.0, "ampoule"), (0.1, "mg"), (2.0, "ml"), (3.0, "patch"), (50.0, "mcg"),
            (10.0, "tablet"), (2.0, "vial"), (50.0, "unit")} <= forms


def test_payments_and_keys():
    ent = extract("Yape al 987 654 321 o plin: 912345678; BCP 191-12345678-0-12; "
                  "BTC bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh; cashapp $rxking")
    kinds = {(p["kind"], p["value"]) for p in ent.payments}
    assert ("yape", "+51987654321") in kinds and ("plin", "+51912345678") in kinds
    assert ("bank", "19112345678012") in kinds and ("cashapp", "$rxking") in kinds
    assert ("btc", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh") in kinds
    assert ("payment", "bank:19112345678012") in ent.keys()
    assert ("phone", "+51987654321") in ent.keys()


def test_handles_and_urls():
    ent = extract("contacto @ElTio_Norte, t.me/medsnorte, snap pharmaking, signal only, "
                  "mail: ventas@correo.pe https://instagram.com/farma.pe.")
    assert {"@eltio_norte", "@medsnorte", "@pharmaking", "@farma.pe"} <= set(ent.handles)
    assert "@correo.pe" not in ent.handles and "@only" not in ent.handles
    assert "https://instagram.com/farma.pe" in ent.urls and "t.me/medsnorte" in ent.urls


def test_places_accents_aliases_misspellings_and_common_words():
    got = {p.name: p for p in find_places("delivery SJL, Los Olivos y Breña; tambien Arekipa y Cuzco")}
    assert {"San Juan de Lurigancho", "Los Olivos", "Breña", "Arequipa", "Cusco"} <= set(got)
    assert got["Arequipa"].fuzzy and got["San Juan de Lurigancho"].ubigeo == "150132"
    assert find_places("caja x 10, comas y puntos") == []  # everyday words alone are not places
    castilla = find_places("entrego en Castilla, Piura")
    assert castilla[0].ubigeo == "200104" and castilla[0].department == "20"
    comas = {p.ubigeo for p in find_places("delivery Los Olivos, Comas")}
    assert "150110" in comas  # Lima's Comas, not Junín's, beside another Lima district
