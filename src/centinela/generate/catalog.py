"""Fixed catalogues of the synthetic world: products, names, seized substances, id formats."""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProductSpec:
    code: str
    key: str  # short internal name used by the simulation
    name: str
    substance: str
    dosage_form: str
    strength_mg: float
    patch_mcg_h: float | None
    units_per_pack: int
    serialized: bool = False
    shelf_months: int = 30


# Sanitary registration numbers are invented (EE- is the prefix DIGEMID gives imported drugs).
# Patch mg contents follow the matrix patches on the market: 12 µg/h ≈ 2.1 mg … 100 µg/h ≈ 16.8 mg.
PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("EE-04811", "fen2", "Fentanilo citrato 0.05 mg/mL x 2 mL ampolla",
                "fentanyl", "ampoule", 0.1, None, 50, serialized=True),
    ProductSpec("EE-04812", "fen10", "Fentanilo citrato 0.05 mg/mL x 10 mL ampolla",
                "fentanyl", "ampoule", 0.5, None, 25),
    ProductSpec("EE-05120", "p12", "Fentanilo 12 mcg/h parche transdermico", "fentanyl",
                "patch", 2.1, 12.0, 5),
    ProductSpec("EE-05121", "p25", "Fentanilo 25 mcg/h parche transdermico", "fentanyl",
                "patch", 4.2, 25.0, 5),
    ProductSpec("EE-05122", "p50", "Fentanilo 50 mcg/h parche transdermico", "fentanyl",
                "patch", 8.4, 50.0, 5),
    ProductSpec("EE-05123", "p75", "Fentanilo 75 mcg/h parche transdermico", "fentanyl",
                "patch", 12.6, 75.0, 5),
    ProductSpec("EE-05124", "p100", "Fentanilo 100 mcg/h parche transdermico", "fentanyl",
                "patch", 16.8, 100.0, 5),
    ProductSpec("EE-06230", "remi", "Remifentanilo 1 mg polvo liofilizado vial",
                "remifentanil", "vial", 1.0, None, 5),
    ProductSpec("EE-06311", "suf", "Sufentanilo 0.05 mg/mL x 1 mL ampolla", "sufentanil",
                "ampoule", 0.05, None, 10),
    ProductSpec("EE-03010", "mora", "Morfina clorhidrato 10 mg/mL x 1 mL ampolla", "morphine",
                "ampoule", 10.0, None, 25),
    ProductSpec("EE-03015", "mort", "Morfina sulfato 30 mg tableta de liberacion prolongada",
                "morphine", "tablet", 30.0, None, 30),
    ProductSpec("EE-03240", "meth", "Metadona clorhidrato 10 mg tableta", "methadone",
                "tablet", 10.0, None, 20),
)
BY_KEY = {p.key: p for p in PRODUCTS}
PATCH_KEYS = ("p12", "p25", "p50", "p75", "p100")
FENTANYL_KEYS = frozenset(p.key for p in PRODUCTS if p.substance == "fentanyl")

FIRST_F = (
    "María", "Rosa", "Carmen", "Ana", "Lucía", "Julia", "Milagros", "Patricia", "Elena", "Sofía",
    "Gabriela", "Verónica", "Diana", "Flor", "Karina", "Roxana", "Silvia", "Liliana", "Pilar",
    "Yolanda", "Claudia", "Fiorella", "Jessica", "Giovanna", "Mercedes", "Norma", "Ruth",
)
FIRST_M = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "César", "Víctor", "Pedro", "Manuel",
    "Raúl", "Óscar", "Fernando", "Ricardo", "Alberto", "Walter", "Hugo", "Eduardo", "Javier",
    "Ángel", "Percy", "Wilmer", "Martín", "Edwin", "Segundo", "Julio", "Renzo",
)
SURNAMES = (
    "Quispe", "Flores", "Sánchez", "Rodríguez", "García", "Rojas", "Mamani", "Huamán", "Díaz",
    "Chávez", "Vásquez", "Ramos", "Torres", "Mendoza", "Castillo", "Vargas", "Gutiérrez",
    "Romero", "Ramírez", "Cruz", "Espinoza", "Pérez", "Salazar", "Condori", "Reyes", "Morales",
    "Ccama", "Huaman", "Paredes", "Cárdenas", "Ríos", "Gonzales", "Aguilar", "Medina", "Silva",
    "Herrera", "Cabrera", "Castro", "Zapata", "Apaza", "Ticona", "Villanueva", "Alvarado",
    "Palomino", "Benites", "Ccori", "Cáceres", "Tello", "Valverde", "Huanca",
)
CLINIC_NAMES = (
    "San Juan", "Santa Rosa", "San Pablo", "Los Andes", "Del Sur", "San Gabriel", "Santa María",
    "Good Hope", "La Luz", "San Felipe", "Internacional", "Stella Maris", "San Borja", "Limatambo",
    "Montefiori", "Vesalio", "Angloamericana", "Ricardo Palma", "Maison de Santé", "El Golf",
)
PHARMACY_WORDS = (
    "Salud", "Vida", "San Martín", "Santa Rosa", "Señor de los Milagros", "La Esperanza",
    "Central", "Popular", "Del Pueblo", "Sagrado Corazón", "Virgen de la Puerta", "Divino Niño",
    "San José", "Medifarma", "Inkafarma", "Mi Farma", "Boticas Perú", "Nuestra Señora",
)

# Substances found in seizures: name, SMILES (real structures), usual form.
SEIZED_SUBSTANCES: tuple[tuple[str, str, str], ...] = (
    ("fentanyl", "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1", "powder"),
    ("carfentanil", "CCC(=O)N(c1ccccc1)C1(C(=O)OC)CCN(CCc2ccccc2)CC1", "powder"),
    ("acetylfentanyl", "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1", "pill"),
    ("furanylfentanyl", "O=C(c1ccco1)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1", "powder"),
    ("acrylfentanyl", "C=CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1", "powder"),
    ("para-fluorofentanyl", "CCC(=O)N(c1ccc(F)cc1)C1CCN(CCc2ccccc2)CC1", "pill"),
    ("ocfentanil", "COCC(=O)N(c1ccccc1F)C1CCN(CCc2ccccc2)CC1", "powder"),
    ("isotonitazene", "CCN(CC)CCn1c(Cc2ccc(OC(C)C)cc2)nc2cc([N+](=O)[O-])ccc21", "powder"),
    ("metonitazene", "CCN(CC)CCn1c(Cc2ccc(OC)cc2)nc2cc([N+](=O)[O-])ccc21", "pill"),
    ("protonitazene", "CCCOc1ccc(Cc2nc3cc([N+](=O)[O-])ccc3n2CCN(CC)CC)cc1", "powder"),
    ("etonitazepyne", "CCOc1ccc(Cc2nc3cc([N+](=O)[O-])ccc3n2CCN2CCCC2)cc1", "pill"),
)


def person_name(rng: random.Random, female: bool) -> str:
    """Return a synthetic Peruvian-style full name (given name, two surnames)."""
    first = rng.choice(FIRST_F if female else FIRST_M)
    return f"{first} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"


def ruc(rng: random.Random, prefix: str = "20") -> str:
    """Return an 11-digit RUC with a valid SUNAT check digit."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(8))
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    check = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return body + str({10: 0, 11: 1}.get(check, check))


def gs1_serial(lot: str, index: int) -> str:
    """Return a GS1 AI-21-style unit serial derived from the lot and the unit's position."""
    return f"{lot}{index:06d}"


class FastRandom(random.Random):
    """``random.Random`` with quick single-purpose draws for the hot loops (same seed, same
    sequence)."""

    def below(self, n: int) -> int:
        """Return an integer in ``[0, n)``."""
        return int(self.random() * n)

    def pick(self, seq):  # noqa: ANN001, ANN201 - any sequence
        """Return one element of a non-empty sequence."""
        return seq[int(self.random() * len(seq))]

    def pick_cw(self, items, cum_weights):  # noqa: ANN001, ANN201
        """Return one element drawn with the given cumulative weights."""
        return items[bisect(cum_weights, self.random() * cum_weights[-1])]
