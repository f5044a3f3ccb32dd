"""Substance registry keyed by InChIKey: names, synonyms and street names map to structures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from centinela.ews import names as nm
from centinela.ews.control import FAMILY_RANK, family_of
from centinela.lib.chem import (
    Structure,
    StructureError,
    connectivity,
    looks_like_smiles,
    standardize,
)
from centinela.lib.text import edit_distance, fold

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
    heavy_atoms: int = 0

    def seriousness(self) -> tuple[int, bool, int]:
        """Order of a mixture's components (the most serious keys it): family (fentanyl >
        nitazene > other opioid > precursor > none), then controlled, then size — the order
        ``classify`` uses for the molecules of a structure."""
        family = family_of(self.category)
        return (FAMILY_RANK[family], bool(self.schedules) or family != "none", self.heavy_atoms)

    def as_dict(self) -> dict[str, Any]:
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
    by_spelling: dict[str, Substance | None] = field(default_factory=dict)
    by_key_id: dict[str, Substance] = field(default_factory=dict)
    initials: dict[str, set[str]] = field(default_factory=dict)
    by_cas: dict[str, Substance] = field(default_factory=dict)
    by_iupac: dict[str, Substance | None] = field(default_factory=dict)
    # Curated readings of street names that name no single substance (``street_terms``),
    # keyed by the folded name.
    street_terms: dict[str, dict[str, Any]] = field(default_factory=dict)
    _matches: dict[str, tuple[Substance | None, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.substances:
            self.by_key_id[s.id] = s
            if s.cas:
                self.by_cas.setdefault(s.cas, s)
            if s.iupac:
                self.by_name.setdefault(fold(s.iupac), s)
                key = nm.iupac_key(s.iupac)  # two entries on one key: ambiguous, never matched
                held = self.by_iupac.get(key, s)
                self.by_iupac[key] = s if held is not None and held.id == s.id else None
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
                key = nm.spelling_key(n)
                self.initials.setdefault(key, set()).add(nm.initials(n))
                if len(key) >= 3:  # two entries on one key: ambiguous, never matched
                    held = self.by_spelling.get(key, s)
                    self.by_spelling[key] = s if held is not None and held.id == s.id else None
            for n in s.street_names:
                self.by_street.setdefault(fold(n), []).append(s)
        for term in list(self.street_terms.values()):
            for n in term["names"]:
                self.street_terms[fold(n)] = term
                known = self.by_street.setdefault(fold(n), [])
                known += [self.by_key_id[i] for i in term["may_be"]
                          if self.by_key_id[i] not in known]

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
        """Return the entry ``name`` names: a name or synonym (accents and case ignored), with
        salts, strengths, dosage forms and qualifiers around it ("presunto fentanilo 2 %"),
        in either language's spelling ("parafluorofentanyl"), or with one typo ("fentanillo")
        when no other entry is as close. One name only: :meth:`parse_reported` reads
        mixtures."""
        return self.match_name(name)[0]

    def match_name(self, name: str) -> tuple[Substance | None, str]:
        """``lookup_name`` and how it matched: ``exact``, ``spelling``, ``typo`` or ``""``."""
        hit = self._matches.get(name)
        if hit is None:
            if len(self._matches) > 20_000:
                self._matches.clear()
            hit = self._matches[name] = self._match(name)
        return hit

    def _match(self, name: str) -> tuple[Substance | None, str]:
        found = self._exact(name)
        if found is not None:
            return found, "exact"
        if nm.looks_like_iupac(name):  # a systematic name, in any spelling or order
            found = self.by_iupac.get(nm.iupac_key(nm.strip_salt(name)))
            return (found, "iupac") if found is not None else (None, "")
        if " " not in name.strip() and any(c in name for c in "=#[]()@"):
            return None, ""  # structure notation (SMILES, InChI), not a name
        words = nm.content_words(nm.strip_strengths(name))
        if not words or nm.is_generic(" ".join(words)):
            return None, ""
        cleaned = " ".join(words)
        found = self._exact(cleaned)
        if found is not None:
            return found, "exact"
        key = nm.spelling_key(cleaned)
        if len(key) < 3:
            return None, ""
        if key in self.by_spelling:
            found = self.by_spelling[key]
            return (found, "spelling") if found is not None else (None, "")
        # A typo: the registry name's length sets how many edits it may take, never at the
        # first letter of a word (metonitazepyne is not a typo of etonitazepyne, nor
        # "N-pirrolidino metonitaceno" of "N-pirrolidino etonitaceno"), and only one entry may
        # be that close.
        best, ids = 3, set()
        starts = nm.initials(cleaned)
        for other, sub in self.by_spelling.items():
            limit = nm.typo_limit(other)
            if sub is None or not limit or starts not in self.initials[other]:
                continue
            d = edit_distance(key, other, min(limit, best))
            if d > limit:
                continue
            if d < best:
                best, ids, found = d, {sub.id}, sub
            elif d == best:
                ids.add(sub.id)
        return (found, "typo") if len(ids) == 1 else (None, "")

    def _exact(self, name: str) -> Substance | None:
        """The entry one of whose names or synonyms is ``name`` (accents and case ignored); a
        salt or strength around it is ``_match``'s cleaning (``names.content_words``)."""
        return self.by_name.get(fold(name))

    def parse_reported(self, text: str) -> list[ReportedPart]:
        """Read a reported substance text that may name several substances ("heroína cortada
        con fentanilo y xilazina", "Fentanyl + 4-ANPP", "M30 falsas (fentanilo)").

        CAS numbers (check digit verified) name their entry. Each part between connectors is
        looked up whole, then by its longest runs of words ("polvo beige con acetil fentanilo"
        finds acetylfentanyl, not fentanyl; "orto-metil fentanilo" is not fentanyl); inside a
        longer part, a short name (under five letters, no digit: "iso", "pink") does not
        count. A class phrase ("análogo de fentanilo") or an unlisted name is kept unresolved
        with the family its name suggests; words that only describe ("polvo blanco",
        "sustancia desconocida") are left out. Parts come back in the order written, each
        substance once.
        """
        out: list[ReportedPart] = []
        seen: set[str] = set()

        def add(part: ReportedPart) -> None:
            ident = part.substance.id if part.substance else "?" + part.text
            if ident not in seen:
                seen.add(ident)
                out.append(part)

        for cas in nm.cas_numbers(text):
            if cas in self.by_cas:
                add(ReportedPart(cas, self.by_cas[cas], "cas"))
            text = text.replace(cas, " ")
        # Systematic names are read whole, never cut at their brackets and commas: the whole
        # text, or one in parentheses after a common name ("Carfentanil (methyl 1-(…)…)").
        for name, rest in nm.iupac_spans(text):
            sub, how = self.match_name(name)
            add(ReportedPart(name, sub, how) if sub is not None
                else ReportedPart(name, None, "iupac", nm.iupac_family(name)))
            text = rest
        for part in nm.split_parts(text):
            if fold(part) in self.by_street and self._exact(part) is None:
                add(ReportedPart(part, None, "street"))
                continue
            words = nm.content_words(part)
            cut = nm.generic_at(words)
            if cut is not None:  # "isotonitaceno junto a un análogo de fentanilo"
                phrase = " ".join(words[cut:])
                words = words[:cut]
            if words and not nm.only_unknown(words):
                self._read_words(part, words, add)
            if cut is not None:
                add(ReportedPart(phrase, None, "generic", nm.family_hint(phrase)))
        return out

    def _read_words(self, part: str, words: list[str],
                    add: Callable[[ReportedPart], None]) -> None:
        """Look up one part's content words: whole, else by runs of words (longest first)."""
        joined = " ".join(words)
        if len(words) > 1 and self._exact(part) is None and fold(joined) in self.by_street:
            add(ReportedPart(joined, None, "street"))
            return
        sub, how = self.match_name(joined)
        if sub is not None:
            add(ReportedPart(part, sub, how))
            return
        used = [False] * len(words)
        found = []
        for n in range(len(words) - 1, 0, -1):
            for i in range(len(words) - n + 1):
                if any(used[i:i + n]):
                    continue
                run = " ".join(words[i:i + n])
                if len(nm.spelling_key(run)) < 5 and not any(c.isdigit() for c in run):
                    continue
                if i and not used[i - 1] and nm.is_modifier(words[i - 1]):
                    continue  # "orto-metil fentanilo" is not fentanyl
                sub, how = self.match_name(run)
                if sub is not None:
                    found.append((i, ReportedPart(run, sub, how)))
                    used[i:i + n] = [True] * n
        rest = [w for w, u in zip(words, used, strict=True) if not u and w not in nm.UNKNOWN]
        for _i, hit in sorted(found, key=lambda f: f[0]):
            add(hit)
        hint = nm.family_hint(" ".join(rest)) if rest else None
        if rest and (not found or hint):
            add(ReportedPart(" ".join(rest), None, "", hint))

    def street(self, name: str) -> list[Substance]:
        """Return the substances a street name may refer to (ambiguous by nature)."""
        return list(self.by_street.get(fold(name), []))

    def street_reading(self, name: str) -> StreetReading | None:
        """Return what a street name means (None for any other text): the substances it may
        refer to, the family they share and a reading in Spanish and English. It never
        identifies a substance; "fenta", a street name that is also a registry synonym, names
        fentanyl but still carries the warning."""
        key = fold((name or "").strip())
        may_be = tuple(self.by_street.get(key, ()))
        if not may_be:
            return None
        term = self.street_terms.get(key)
        families = {family_of(s.category) for s in may_be}
        family = term["family"] if term else (families.pop() if len(families) == 1 else None)
        if term:
            es, en = term["reading_es"], term["reading_en"]
        else:
            es = "nombre callejero de " + ", ".join(s.display_name("es") for s in may_be)
            en = "street name for " + ", ".join(s.name for s in may_be)
        return StreetReading(name=(name or "").strip(), family=family, may_be=may_be,
                             reading_es=es, reading_en=en, synonym_of=self._exact(name))


@dataclass(frozen=True)
class StreetReading:
    """What a street name may mean ("M30": a counterfeit oxycodone pill that often contains
    fentanyl): never an identification, always "confirm by laboratory analysis"."""

    name: str
    family: str | None  # the family its substances share (or the curated one), else None
    may_be: tuple[Substance, ...]
    reading_es: str
    reading_en: str
    synonym_of: Substance | None = None  # a street name that is also a registry synonym

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family,
                "may_be": [s.id for s in self.may_be], "reading_es": self.reading_es,
                "reading_en": self.reading_en,
                "synonym_of": self.synonym_of.id if self.synonym_of else None}


@dataclass(frozen=True)
class ReportedPart:
    """One substance of a reported text: its words, the registry entry they name (or None),
    how they matched (``exact``, ``spelling``, ``typo``, ``generic`` for a class, ``""``) and,
    unresolved, the family the name suggests."""

    text: str
    substance: Substance | None
    how: str = ""
    family_hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        s = self.substance
        return {"reported": self.text, "registry_id": s.id if s else None,
                "name": s.name if s else None, "category": s.category if s else None,
                "match": self.how or None, "family_hint": self.family_hint}


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
            heavy_atoms=st.mol.GetNumHeavyAtoms(),
        ))
    terms = {fold(t["names"][0]): t for t in raw.get("street_terms", [])}
    return Registry(out, street_terms=terms)


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
    components: list[dict[str, Any]] = field(default_factory=list)
    family_hint: str | None = None
    unlisted: str | None = None

    def component_smiles(self) -> list[str]:
        """The structures of every registry substance the reported name lists (a mixture)."""
        reg = registry()
        return [reg.by_key_id[c["registry_id"]].canonical_smiles
                for c in self.components if c["registry_id"]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "inchikey": self.inchikey, "smiles": self.smiles,
            "registry_id": self.substance.id if self.substance else None,
            "mismatch": self.mismatch, "error": self.error, "notes": list(self.notes),
            "components": list(self.components), "family_hint": self.family_hint,
        }


def resolve(name: str | None = None, smiles: str | None = None) -> Resolution:
    """Resolve a reported name and/or structure; flag a name that disagrees with the structure.

    A name that is no single registry entry is read as a reported mixture
    (:meth:`Registry.parse_reported`): it resolves to its most serious component, every
    component is listed (``components``), and a structure disagrees with it only when it is
    none of them. An unlisted name whose family outranks every resolved component
    ("heroína con o-metilfentanilo") keys nothing: ``family_hint`` asks for expert review.
    """
    reg = registry()
    res = Resolution()
    named = reg.lookup_name(name) if name and name.strip() else None
    named_ids = {named.id} if named is not None else set()
    if named is None and name and name.strip():
        named = _resolve_reported(reg, name, res)
        named_ids = {c["registry_id"] for c in res.components if c["registry_id"]}
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
            if named_ids and (res.substance is None or res.substance.id not in named_ids):
                found = res.substance.name if res.substance else "an unlisted structure"
                said = (f"{named.name} ({named.inchikey})" if named is not None and len(named_ids) == 1
                        else ", ".join(sorted(named_ids)))
                res.mismatch = (f"name {name!r} is {said} but the structure is {found} "
                                f"({st.inchikey})")
    if res.substance is None and res.inchikey is None and named is not None:
        res.substance, res.inchikey, res.smiles = named, named.inchikey, named.canonical_smiles
    if res.substance is not None:
        res.name = res.substance.name
    elif res.family_hint and res.unlisted:
        res.name = res.unlisted
    elif name and name.strip():
        res.name = name.strip().lower()
        if reg.street(name):
            res.notes.append("street name: may be " + ", ".join(s.name for s in reg.street(name)))
    return res


def _resolve_reported(reg: Registry, name: str, res: Resolution) -> Substance | None:
    """Fill ``res.components`` (and notes) from a reported text; return the entry it keys."""
    parts = reg.parse_reported(name)
    res.components = [p.as_dict() for p in parts]
    subs = [p.substance for p in parts if p.substance is not None]
    best = max(subs, key=Substance.seriousness) if subs else None
    for p in parts:
        if p.how in ("spelling", "typo") and p.substance is not None:
            res.notes.append(f"{p.text!r} read as {p.substance.name} ({p.how})")
    hinted = [p for p in parts if p.substance is None and p.family_hint]
    top = max(hinted, key=lambda p: FAMILY_RANK[p.family_hint or "none"], default=None)
    if top is not None and (best is None or FAMILY_RANK[top.family_hint or "none"]
                            > FAMILY_RANK[family_of(best.category)]):
        res.family_hint, res.unlisted = top.family_hint, top.text
        res.notes.append(f"{top.text!r} is not in the substance registry; its name suggests the "
                         f"{top.family_hint} family: expert review")
        best = None
    if len(subs) > 1 and best is not None:
        res.notes.append(f"reported mixture of {len(subs)} substances ("
                         + ", ".join(sub.name for sub in subs)
                         + f"): keyed by its most serious component, {best.name}")
    return best


def parse_query(text: str) -> Resolution:
    """Resolve free text that is either a registry name or a SMILES string."""
    text = (text or "").strip()
    if reg_hit := registry().lookup_name(text):
        return resolve(name=reg_hit.name)
    if looks_like_smiles(text):
        return resolve(smiles=text)
    return resolve(name=text)
