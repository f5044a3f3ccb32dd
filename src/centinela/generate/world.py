"""The synthetic registry: importers, distributors, real IPRESS hospitals, clinics, pharmacies
and the professionals who work in them."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from centinela.generate import catalog
from centinela.lib.text import fold
from centinela.reference import ubigeo

# Upstream lost some accented letters (U+FFFD); these are the words where it happened.
_NAME_FIXES = {
    "SA\ufffdL": "SAÚL", "CARRI\ufffdN": "CARRIÓN", "HUAM\ufffdN": "HUAMÁN", "NU\ufffdEZ": "NUÑEZ",
    "MU\ufffdOZ": "MUÑOZ", "RAM\ufffdN": "RAMÓN", "FERRE\ufffdAFE": "FERREÑAFE",
    "SU\ufffdREZ": "SUÁREZ", "SEGU\ufffdN": "SEGUÍN", "GUZM\ufffdN": "GUZMÁN", "NI\ufffdO": "NIÑO",
}
# Beds imputed where the registry leaves them empty, by category.
_BEDS_BY_CATEGORY = {"II-1": 40, "II-2": 120, "II-E": 80, "III-1": 300, "III-E": 200}
ONCOLOGY_INSTITUTE = "HOSPITAL REGIONAL DOCENTE DE ENFERMEDADES NEOPLASICAS"
HANDLER_SPECIALTIES = frozenset(
    {"anesthesiology", "intensive_care", "oncology", "palliative_care", "general_medicine"}
)
OUTPATIENT_SPECIALTIES = ("palliative_care", "oncology", "general_medicine")


@dataclass(slots=True)
class Est:
    idx: int
    id: str
    name: str
    kind: str
    sector: str
    ubigeo: str
    ruc: str
    authorized: bool
    expires: dt.date | None
    beds: float = 0.0
    level: str = ""
    case_rate: float = 0.0  # expected anaesthesia/ICU cases per day
    course_rate: float = 0.0  # expected new outpatient courses per day
    supplier: int = -1
    order_day: int = 1
    nurses: list[int] = field(default_factory=list)
    nurse_w: list[float] = field(default_factory=list)
    anesth: list[int] = field(default_factory=list)
    intens: list[int] = field(default_factory=list)
    surgeons: list[int] = field(default_factory=list)
    pharmacists: list[int] = field(default_factory=list)
    prescribers: list[int] = field(default_factory=list)

    @property
    def dept(self) -> str:
        return self.ubigeo[:2]


@dataclass(slots=True)
class Prof:
    idx: int
    id: str
    role: str
    name: str
    specialty: str
    est: int
    ubigeo: str
    certified_on: dt.date | None = None
    certificate_id: str = ""
    handler: bool = False  # handles fentanyl: needs a valid certificate after the deadline
    course_w: float = 1.0  # relative share of outpatient courses (prescribers)


@dataclass
class World:
    start: dt.date
    end: dt.date
    deadline: dt.date
    valid_days: int
    ests: list[Est] = field(default_factory=list)
    profs: list[Prof] = field(default_factory=list)
    importers: list[int] = field(default_factory=list)
    distributors: list[int] = field(default_factory=list)
    hospitals: list[int] = field(default_factory=list)
    clinics: list[int] = field(default_factory=list)
    pharmacies: list[int] = field(default_factory=list)
    # department code -> outpatient prescribers there
    dept_prescribers: dict[str, list[int]] = field(default_factory=dict)
    dept_outlets: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ordering(self) -> list[int]:
        """Establishments that order from a distributor."""
        return self.hospitals + self.clinics + self.pharmacies


def _district(name: str, dept: str) -> str:
    key = fold(name)
    for d in ubigeo.districts().values():
        if d.department_code == dept and fold(d.district) == key:
            return d.ubigeo
    raise LookupError(f"district {name!r} not found in department {dept}")


def _fix(name: str) -> str:
    for bad, good in _NAME_FIXES.items():
        name = name.replace(bad, good)
    return name.replace("\ufffd", "")


class _Builder:
    def __init__(self, rng: random.Random, scale: float, world: World) -> None:
        self.rng = rng
        self.scale = scale
        self.w = world
        self._est_ids = _increasing(rng, 1000, 700)
        self._cmp = _unique(rng, 10_000, 99_999)
        self._cqfp = _unique(rng, 1000, 29_999)
        self._cep = _unique(rng, 10_000, 199_999)
        self._cert = 0
        dists = list(ubigeo.districts().values())
        self._codes = [d.ubigeo for d in dists if d.population > 0]
        pops = [d.population for d in dists if d.population > 0]
        acc, cum = 0, []
        for p in pops:
            acc += p
            cum.append(acc)
        self._cum = cum

    def district(self) -> str:
        return self.rng.choices(self._codes, cum_weights=self._cum)[0]

    def est(self, name: str, kind: str, sector: str, code: str, **kw) -> Est:
        rng = self.rng
        expires = self.w.end + dt.timedelta(days=rng.randint(90, 1100))
        e = Est(len(self.w.ests), f"EST-{next(self._est_ids):07d}", name, kind, sector, code,
                catalog.ruc(rng), True, expires, **kw)
        e.order_day = rng.randint(1, 26)
        self.w.ests.append(e)
        return e

    def prof(self, role: str, specialty: str, e: Est, handler: bool) -> int:
        rng = self.rng
        if role == "prescriber":
            pid = f"CMP-{next(self._cmp):06d}"
        elif role == "pharmacist":
            pid = f"CQFP-{next(self._cqfp):05d}"
        else:
            pid = f"CEP-{next(self._cep):06d}"
        female = rng.random() < (0.85 if role == "nurse" else 0.5)
        p = Prof(len(self.w.profs), pid, role, catalog.person_name(rng, female), specialty, e.idx,
                 e.ubigeo, handler=handler)
        self.certify(p)
        self.w.profs.append(p)
        return p.idx

    def certify(self, p: Prof) -> None:
        """Give a handler a certificate valid through the data; others a mixed history."""
        rng, w = self.rng, self.w
        if p.handler or rng.random() < 0.5:
            lo = max(w.start - dt.timedelta(days=30), w.end - dt.timedelta(days=w.valid_days - 1))
            hi = max(lo, min(w.deadline - dt.timedelta(days=1), w.end))
            day = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
        elif rng.random() < 0.5:
            day = w.start - dt.timedelta(days=rng.randint(400, 1200))  # long expired
        else:
            p.certified_on, p.certificate_id = None, ""
            return
        self.set_cert(p, day)

    def set_cert(self, p: Prof, day: dt.date | None) -> None:
        p.certified_on = day
        if day is None:
            p.certificate_id = ""
            return
        self._cert += 1
        p.certificate_id = f"CERT-{day.year}-{self._cert:06d}"


def _increasing(rng: random.Random, first: int, step: int) -> Iterator[int]:
    n = first
    while True:
        n += 1 + int(rng.random() * step)
        yield n


def _unique(rng: random.Random, lo: int, hi: int) -> Iterator[int]:
    seen: set[int] = set()
    while True:
        n = lo + int(rng.random() * (hi - lo))
        if n not in seen:
            seen.add(n)
            yield n


def _hospital_rows() -> list[dict[str, str]]:
    with ubigeo.data_path("hospitals_ipress_operational.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def build_world(rng: random.Random, scale: float, start: dt.date, days: int,
                deadline: dt.date, valid_days: int) -> World:
    """Build the registry of a synthetic Peru sized by ``scale``."""
    w = World(start, start + dt.timedelta(days=days - 1), deadline, valid_days)
    b = _Builder(rng, scale, w)
    lima = [_district(n, "15") for n in ("San Isidro", "Ate", "Lurín", "Los Olivos", "Chorrillos",
                                          "Santa Anita", "Surquillo", "La Victoria")]
    callao = _district("Callao", "07")
    for i, code in enumerate((lima[0], callao, lima[1])):
        e = b.est(f"Importadora Farmacéutica {('Andina', 'del Pacífico', 'Inca')[i]} S.A.C.",
                  "importer", "private", code)
        w.importers.append(e.idx)
        b.prof("pharmacist", "", e, True)
    hubs = [lima[1], "040101", lima[2], "130101", "140101", lima[3], "200101", "080101",
            "120101", lima[4], "160101", "210101", lima[5], "110101", lima[6], "020101",
            "230101", lima[7], "060101", "250101"]
    n_dist = max(3, min(20, round(15 * scale)))
    for i in range(n_dist):
        code = hubs[i]
        e = b.est(f"Droguería {ubigeo.get(code).district.title()} {i + 1} S.A.", "distributor",
                  "private", code)
        e.supplier = w.importers[i % len(w.importers)]
        w.distributors.append(e.idx)
        b.prof("pharmacist", "", e, True)

    rows = _hospital_rows()
    if scale < 1:
        keep = max(8, round(len(rows) * scale))
        must = [r for r in rows if r["Nombre del establecimiento"] == ONCOLOGY_INSTITUTE]
        rest = [r for r in rows if r not in must]
        rows = must + rng.sample(rest, keep - len(must))
    intensity = max(1.0, scale)
    for r in rows:
        cat = r["Categoría"] if r["Categoría"] in _BEDS_BY_CATEGORY else "II-1"
        beds = float(r["CAMAS"]) if r["CAMAS"] else float(_BEDS_BY_CATEGORY.get(cat, 30))
        beds = max(beds, 8.0)
        name = _fix(r["Nombre del establecimiento"].strip())
        onco = name == ONCOLOGY_INSTITUTE
        if onco:
            beds = 150.0
        e = b.est(name.title(), "hospital", "public", r["UBIGEO"].strip().zfill(6),
                  beds=beds, level=cat)
        e.case_rate = beds * 0.023 * intensity
        big = cat in ("II-2", "III-1", "III-E", "II-E") or beds >= 100
        e.course_rate = (beds / 100.0) * (0.2 if big else 0.045) * intensity * (5 if onco else 1)
        w.hospitals.append(e.idx)
        _staff_hospital(b, e, big, onco)
    n_clinics = max(3, round(150 * scale))
    for i in range(n_clinics):
        code = b.district()
        beds = float(rng.randint(10, 90))
        e = b.est(f"Clínica {rng.choice(catalog.CLINIC_NAMES)} {i + 1}", "clinic", "private",
                  code, beds=beds, level="II-1")
        e.case_rate = beds * 0.029
        e.course_rate = beds / 100.0 * 0.1
        w.clinics.append(e.idx)
        _staff_clinic(b, e)
    n_pharm = max(20, round(1300 * scale))
    for i in range(n_pharm):
        code = b.district()
        kind = "pharmacy" if rng.random() < 0.45 else "drugstore"
        word = rng.choice(catalog.PHARMACY_WORDS)
        label = "Farmacia" if kind == "pharmacy" else "Botica"
        e = b.est(f"{label} {word} {i + 1}", kind, "private", code)
        e.course_rate = 0.036 * rng.lognormvariate(0, 0.7)
        w.pharmacies.append(e.idx)
        if kind == "drugstore" and rng.random() < 0.04:
            e.authorized, e.expires, e.course_rate = False, None, 0.0
        for _ in range(1 if rng.random() < 0.7 else 2):
            e.pharmacists.append(b.prof("pharmacist", "", e, e.authorized))
    _assign_suppliers(rng, w)
    _index_outpatient(w)
    return w


def _staff_hospital(b: _Builder, e: Est, big: bool, onco: bool) -> None:
    beds = e.beds
    e.anesth = [b.prof("prescriber", "anesthesiology", e, True)
                for _ in range(max(1, min(25, round(beds / 45))))]
    e.intens = [b.prof("prescriber", "intensive_care", e, True)
                for _ in range(max(1 if beds >= 60 else 0, min(12, round(beds / 90))))]
    e.surgeons = [b.prof("prescriber", "surgery", e, False)
                  for _ in range(max(1, min(20, round(beds / 40))))]
    pres = []
    if big or onco:
        pres += [b.prof("prescriber", "oncology", e, True)
                 for _ in range(1 + round(beds / 120) + (4 if onco else 0))]
    if big and (beds >= 150 or onco or b.rng.random() < 0.5):
        pres += [b.prof("prescriber", "palliative_care", e, True) for _ in range(2 if onco else 1)]
    pres += [b.prof("prescriber", "general_medicine", e, True)
             for _ in range(1 + (beds >= 120))]
    e.prescribers = pres
    e.pharmacists = [b.prof("pharmacist", "", e, True) for _ in range(1 + int(beds // 150))]
    e.nurses = [b.prof("nurse", "", e, True) for _ in range(max(3, min(50, round(beds / 12))))]
    e.nurse_w = [b.rng.uniform(0.7, 1.3) for _ in e.nurses]
    for _ in range(round(beds / 40)):  # ward nurses who never handle fentanyl
        b.prof("nurse", "", e, False)


def _staff_clinic(b: _Builder, e: Est) -> None:
    rng = b.rng
    e.anesth = [b.prof("prescriber", "anesthesiology", e, True) for _ in range(rng.randint(1, 3))]
    e.intens = [b.prof("prescriber", "intensive_care", e, True)] if e.beds >= 50 else []
    e.surgeons = [b.prof("prescriber", "surgery", e, False) for _ in range(rng.randint(1, 3))]
    e.prescribers = [b.prof("prescriber", "general_medicine", e, True)]
    if rng.random() < 0.4:
        e.prescribers.append(b.prof("prescriber", "oncology", e, True))
    e.pharmacists = [b.prof("pharmacist", "", e, True)]
    e.nurses = [b.prof("nurse", "", e, True) for _ in range(rng.randint(3, 8))]
    e.nurse_w = [rng.uniform(0.7, 1.3) for _ in e.nurses]


def _assign_suppliers(rng: random.Random, w: World) -> None:
    by_dept: dict[str, list[int]] = {}
    for d in w.distributors:
        by_dept.setdefault(w.ests[d].dept, []).append(d)
    lima = by_dept.get("15", w.distributors)
    for i in w.hospitals + w.clinics + w.pharmacies:
        e = w.ests[i]
        local = by_dept.get(e.dept)
        e.supplier = rng.choice(local if local and rng.random() < 0.85 else lima)


def _index_outpatient(w: World) -> None:
    for i in w.hospitals + w.clinics:
        e = w.ests[i]
        for p in e.prescribers:
            w.dept_prescribers.setdefault(e.dept, []).append(p)
    for i in w.hospitals + w.clinics + w.pharmacies:
        e = w.ests[i]
        if e.course_rate > 0 and e.authorized:
            w.dept_outlets.setdefault(e.dept, []).append(i)
