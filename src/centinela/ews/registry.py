"""Substance registry keyed by InChIKey: names, synonyms and street names map to structures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from centinela.lib.chem import (
    Structure,
    StructureError,
    connectivity,
    looks_like_smiles,
    standardize,
)
from centinela.lib.text import fold

CATEGORIES = (
    "fentanyl", "listed_fentanyl_analogue", "precursor", "nitazene", "brorphine_like",
    "u_series", "other_opioid", "opioid_antagonist", "non_opioid",
)


@dataclass(frozen=True)
class Substance:
    """One registry entry, its structure standardized by RDKit at load time."""

    id: str
    name: str
    name_es: str
    category: str
    iupac: str
    smiles: str
    formula: str
    inchikey: str
    canonical_smiles: str
    flat_smiles: str
    synonyms: tuple[str, ...] = ()
    street_names: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()
    subfamily: str = ""
    control_note: str = ""
    cas: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "name_es": self.name_es,
            "category": self.category, "iupac": self.iupac, "smiles": self.canonical_smiles,
            "formula": self.formula, "inchikey": self.inchikey,
            "synonyms": list(self.synonyms), "street_names": list(self.street_names),
            "schedules": list(self.schedules), "subfamily": self.subfamily, "cas": self.cas,
        }

    def display_name(self, lang: str = "es") -> str:
        """The name in the page's language (Spanish first)."""
        return self.name_es if lang == "es" and self.name_es else self.name


@dataclass
class Registry:
    """Lookup tables over the shipped substances."""

    substances: list[Substance]
    by_key: dict[str, Substance] = field(default_factory=dict)
    by_skeleton: dict[str, Substance] = field(default_factory=dict)
    by_name: dict[str, Substance] = field(default_factory=dict)
    by_street: dict[str, list[Substance]] = field(default_factory=dict)
    by_smiles: dict[str, Substance] = field(default_factory=dict)
    by_flat_smiles: dict[str, Substance] = field(default_factory=dict)
    flat_groups: dict[str, list[Substance]] = field(default_factory=dict)
    formulas: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for s in self.substances:
            self.by_key[s.inchikey] = s
            self.by_smiles[s.canonical_smiles] = s
            # stereoisomers sharing a skeleton (levomethorphan, dextromethorphan): a structure
            # without stereochemistry maps to the controlled one (the racemate is controlled)
            cur = self.by_flat_smiles.get(s.flat_smiles)
            if cur is None or (s.schedules and not cur.schedules):
                self.by_flat_smiles[s.flat_smiles] = s
            self.flat_groups.setdefault(s.flat_smiles, []).append(s)
            self.formulas.add(s.formula)
            cur = self.by_skeleton.get(connectivity(s.inchikey))
            if cur is None or (s.schedules and not cur.schedules):
                self.by_skeleton[connectivity(s.inchikey)] = s
            for n in (s.id, s.name, s.name_es, *s.synonyms):
                self.by_name.setdefault(fold(n), s)
            for n in s.street_names:
                self.by_street.setdefault(fold(n), []).append(s)

    def by_inchikey(self, inchikey: str) -> Substance | None:
        """Return the entry with this InChIKey, or one with the same skeleton (stereo differs)."""
        return self.by_key.get(inchikey) or self.by_skeleton.get(connectivity(inchikey))

    def by_structure(self, st: Structure) -> tuple[Substance | None, bool]:
        """Return (entry, exact) for a structure: same canonical SMILES, else same skeleton.

        Canonical-SMILES identity implies InChIKey identity, so this avoids computing InChI
        for the common case; ``exact`` is False when only the stereo-free skeleton matches.
        """
        if st.formula not in self.formulas:  # cheap: no isomer of any entry
            return None, False
        hit = self.by_smiles.get(st.smiles)
        if hit is not None:
            return hit, True
        hit = self.by_flat_smiles.get(st.flat_smiles)
        return (hit, False) if hit is not None else (None, False)

    def lookup_name(self, name: str) -> Substance | None:
        """Return the entry whose name or synonym is ``name`` (accents and case ignored)."""
        key = fold(name)
        if key in self.by_name:
            return self.by_name[key]
        for suffix in (" citrate", " hydrochloride", " hcl", " base"):
            if key.endswith(suffix) and key[: -len(suffix)] in self.by_name:
                return self.by_name[key[: -len(suffix)]]
        for prefix in ("citrato de ", "clorhidrato de "):
            if key.startswith(prefix) and key[len(prefix):] in self.by_name:
                return self.by_name[key[len(prefix):]]
        return None

    def street(self, name: str) -> list[Substance]:
        """Return the substances a street name may refer to (ambiguous by nature)."""
        return list(self.by_street.get(fold(name), []))


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Load and standardize the shipped registry (``ews/data/substances.json``)."""
    raw = json.loads(
        (resources.files("centinela.ews") / "data" / "substances.json").read_text(encoding="utf-8")
    )
    out = []
    for item in raw["substances"]:
        st = standardize(item["smiles"])
        out.append(Substance(
            id=item["id"], name=item["name"], name_es=item["name_es"], category=item["category"],
            iupac=item["iupac"], smiles=item["smiles"], formula=item["formula"],
            inchikey=st.inchikey, canonical_smiles=st.smiles, flat_smiles=st.flat_smiles,
            synonyms=tuple(item.get("synonyms", [])),
            street_names=tuple(item.get("street_names", [])),
            schedules=tuple(item.get("schedules", [])), subfamily=item.get("subfamily", ""),
            control_note=item.get("control_note", ""), cas=item.get("cas", ""),
        ))
    return Registry(out)


@dataclass
class Resolution:
    """What a reported name and/or SMILES resolve to."""

    name: str | None = None
    inchikey: str | None = None
    smiles: str | None = None
    substance: Substance | None = None
    mismatch: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "inchikey": self.inchikey, "smiles": self.smiles,
            "registry_id": self.substance.id if self.substance else None,
            "mismatch": self.mismatch, "error": self.error, "notes": list(self.notes),
        }


def resolve(name: str | None = None, smiles: str | None = None) -> Resolution:
    """Resolve a reported name and/or structure; flag a name that disagrees with the structure."""
    reg = registry()
    res = Resolution()
    named = reg.lookup_name(name) if name and name.strip() else None
    if smiles and smiles.strip():
        try:
            st = standardize(smiles)
            key = st.inchikey
        except StructureError as exc:
            res.error = str(exc)
        else:
            res.inchikey, res.smiles = key, st.smiles
            if st.salt_stripped:
                res.notes.append("salt or mixture: largest organic fragment kept")
            res.substance = reg.by_inchikey(st.inchikey)
            if res.substance and res.substance.inchikey != st.inchikey:
                res.notes.append("same skeleton as the registry entry; stereochemistry differs")
            if named is not None and (res.substance is None
                                      or res.substance.id != named.id):
                found = res.substance.name if res.substance else "an unlisted structure"
                res.mismatch = (f"name {name!r} is {named.name} ({named.inchikey}) but the "
                                f"structure is {found} ({st.inchikey})")
    if res.substance is None and res.inchikey is None and named is not None:
        res.substance, res.inchikey, res.smiles = named, named.inchikey, named.canonical_smiles
    if res.substance is not None:
        res.name = res.substance.name
    elif name and name.strip():
        res.name = name.strip().lower()
        if reg.street(name):
            res.notes.append("street name: may be " + ", ".join(s.name for s in reg.street(name)))
    return res


def parse_query(text: str) -> Resolution:
    """Resolve free text that is either a registry name or a SMILES string."""
    text = (text or "").strip()
    if reg_hit := registry().lookup_name(text):
        return resolve(name=reg_hit.name)
    if looks_like_smiles(text):
        return resolve(smiles=text)
    return resolve(name=text)
