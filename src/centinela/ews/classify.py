"""Regulatory classifier: fentanyl, listed analogues, class-wide fentanyl-related substances,
precursors and other emerging synthetic-opioid families, with the reasons for each answer.

The class-wide definition is the US one (DEA 2018 temporary class order, made permanent by the
HALT Fentanyl Act, 2025): a substance structurally related to fentanyl by one or more of
(A) replacement of the phenyl of the phenethyl group by any monocycle; (B) substitution in or on
the phenethyl group with alkyl, alkenyl, alkoxyl, hydroxyl, halo, haloalkyl, amino or nitro;
(C) substitution in or on the piperidine ring with those groups or ester/ether; (D) replacement of
the aniline ring with any aromatic monocycle; (E) replacement of the N-propionyl by another acyl.
It is implemented on the core N-(1-(2-arylethyl)piperidin-4-yl)-N-aryl-amide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from centinela.ews.control import FAMILY_LABELS, FAMILY_RANK, control_for, family_of
from centinela.ews.families import RULES_BY_ID, family_rule
from centinela.ews.fentanyl_class import Clause, analyse_core
from centinela.ews.names import looks_like_iupac
from centinela.ews.registry import (
    Resolution,
    StreetReading,
    Substance,
    parse_query,
    registry,
    resolve,
)
from centinela.lib.chem import (
    _UNCHARGER,
    Structure,
    StructureError,
    check_mol,
    parse_smiles,
    standardize,
)

CLASS_LABELS = {
    "fentanyl": ("Fentanilo", "Fentanyl"),
    "listed_fentanyl_analogue": ("Análogo del fentanilo fiscalizado individualmente",
                                 "Individually listed fentanyl-family opioid"),
    "fentanyl_related": ("Sustancia relacionada con el fentanilo (definición genérica)",
                         "Fentanyl-related substance (class-wide definition)"),
    "fentanyl_scaffold_outside_class": (
        "Estructura tipo fentanilo fuera de la definición genérica: requiere revisión experta",
        "Fentanyl-like scaffold outside the class-wide definition: needs expert review"),
    "precursor": ("Precursor del fentanilo (no es sustancia relacionada)",
                  "Fentanyl precursor (not a fentanyl-related substance)"),
    "nitazene": ("Opioide sintético emergente: nitaceno (2-bencilbencimidazol)",
                 "Emerging synthetic opioid: nitazene (2-benzylbenzimidazole)"),
    "brorphine_like": ("Opioide sintético emergente: tipo brorfina",
                       "Emerging synthetic opioid: brorphine-like"),
    "u_series": ("Opioide sintético emergente: tipo U-47700", "Emerging synthetic opioid: U-47700-like"),
    "other_opioid": ("Otro opioide", "Other opioid"),
    "opioid_derivative": ("Derivado (N-óxido o sal cuaternaria) de un opioide: requiere revisión",
                          "Derivative (N-oxide or quaternary salt) of an opioid: needs review"),
    "opioid_antagonist": ("Antagonista opioide (no es un opioide de abuso)",
                          "Opioid antagonist (not an opioid of abuse)"),
    "non_opioid": ("No opioide", "Not an opioid"),
    "none": ("Ninguna de estas clases", "None of these classes"),
    # a name that identifies no structure: nothing is asserted about its control
    "unrecognized_name": ("Nombre no reconocido", "Name not recognized"),
    "street_name": ("Nombre callejero: no identifica la sustancia",
                    "Street name: does not identify the substance"),
}
# The family of an item that could not be classified: none asserted, or the one its name
# suggests ("orto-metilfentanilo", "M30"), never confirmed.
UNDETERMINED_FAMILY = ("no determinada", "undetermined")
SUGGESTED_FAMILY = ("{family} (sugerida por el nombre, sin confirmar)",
                    "{family} (suggested by the name, unconfirmed)")
UNCLASSIFIED = ("No se pudo clasificar", "Could not be classified")  # an unusable structure
FENTANYL_CLASSES = ("fentanyl", "listed_fentanyl_analogue", "fentanyl_related")

_LOOSE = Chem.MolFromSmarts("[CX3](=O)[NX3;!R]([#6])[CX4;R]1[CX4;R][CX4;R][NX3;R]([#6])[CX4;R][CX4;R]1")
# the aryl of a 4-ANPP analogue is a monocycle, not an amidine carbon (astemizole's
# benzimidazol-2-ylamino is a look-alike)
_PRECURSOR_LIKE = (
    ("4-ANPP analogue (4-anilinopiperidine with N-phenethyl, no acyl)", Chem.MolFromSmarts(
        "[NX3;H1;!R]([a;R1;!$(a(:n):n)])[CX4;R1]1[CX4][CX4][NX3]([CX4][CX4][*;R])[CX4][CX4]1")),
    ("norfentanyl analogue (4-anilidopiperidine, free ring NH)", Chem.MolFromSmarts(
        "[CX3](=O)[NX3;!R](a)[CX4;R1]1[CX4][CX4][NX3;H1][CX4][CX4]1")),
    ("NPP analogue (N-phenethyl-4-piperidone)", Chem.MolFromSmarts(
        "O=[CX3;R1]1[CX4][CX4][NX3]([CX4][CX4][*;R])[CX4][CX4]1")),
)
# N-oxide of an sp3 amine (not a nitro group) and a quaternary ammonium on carbon only
_N_OXIDE = Chem.MolFromSmarts("[NX4+;!$(N~[#8;X1]=*)]-[OX1-]")
_QUATERNARY = Chem.MolFromSmarts("[NX4+;H0](-[CX4])(-[#6])(-[#6])-[#6]")
# Counter-ions and solvents of salts and hydrates (neutral canonical SMILES after uncharging)
_COUNTER_IONS = {
    Chem.MolToSmiles(Chem.MolFromSmiles(x)): name for x, name in (
        ("Cl", "hydrochloride"), ("Br", "hydrobromide"), ("I", "hydroiodide"), ("F", "fluoride"),
        ("O", "water (hydrate)"), ("OS(=O)(=O)O", "sulfate"), ("OP(=O)(O)O", "phosphate"),
        ("O=C(O)CC(O)(CC(=O)O)C(=O)O", "citrate"), ("O=C(O)C(O)C(O)C(=O)O", "tartrate"),
        ("O=C(O)/C=C\\C(=O)O", "maleate"), ("O=C(O)/C=C/C(=O)O", "fumarate"),
        ("CS(=O)(=O)O", "mesylate"), ("CC(=O)O", "acetate"), ("O=C(O)C(=O)O", "oxalate"),
        ("O=C(O)CCC(=O)O", "succinate"), ("O=S(=O)(O)c1ccccc1", "besylate"),
        ("Cc1ccc(S(=O)(=O)O)cc1", "tosylate"), ("O=[N+]([O-])O", "nitrate"),
        ("OCl(=O)(=O)=O", "perchlorate"), ("O=C(O)C(F)(F)F", "trifluoroacetate"),
        ("O=CO", "formate"), ("CC(O)C(=O)O", "lactate"), ("O=C(O)O", "carbonate"),
        ("CCO", "ethanol (solvate)"), ("CO", "methanol (solvate)"),
        ("O=C(O)c1ccccc1O", "salicylate"), ("O=C(O)CC(O)C(=O)O", "malate"),
        ("OB(O)O", "borate"), ("[Na]", "sodium"), ("[K]", "potassium"), ("[Li]", "lithium"),
        ("[Ca]", "calcium"), ("[Mg]", "magnesium"), ("N", "ammonium"), ("[Zn]", "zinc"),
    )
}

@dataclass
class Classification:
    """The answer for one structure (or mixture), with its reasons."""

    query: str
    category: str
    smiles: str | None = None
    inchikey: str | None = None
    formula: str | None = None
    registry_id: str | None = None
    registry_name: str | None = None
    clauses: list[Clause] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    structure: Structure | None = field(default=None, repr=False, compare=False)
    error_es: str | None = None
    subfamily: str | None = None
    review: bool = False
    parent: str | None = None
    notes: list[str] = field(default_factory=list)
    components: list[dict] = field(default_factory=list)
    substance: Substance | None = field(default=None, repr=False, compare=False)
    controlled_override: bool | None = field(default=None, repr=False)
    extra_control: list[dict] = field(default_factory=list, repr=False)
    family_hint: str | None = None  # the family an unidentified name suggests (never asserted)
    street: dict | None = None  # the reading of a street name (``StreetReading.as_dict``)

    def key(self) -> str | None:
        """Return the InChIKey (and fill the canonical SMILES), computing them on first use."""
        if self.structure is not None:
            if self.smiles is None:
                self.smiles = self.structure.smiles
                self.query = self.query or self.smiles
            if self.inchikey is None:
                try:
                    self.inchikey = self.structure.inchikey
                except StructureError as exc:
                    self.error, self.error_es = str(exc), exc.message_es
                    self.structure = None
        return self.inchikey

    def __getstate__(self) -> dict:
        self.key()  # worker processes send the key, not the molecule
        return {**self.__dict__, "structure": None}

    @property
    def fentanyl_class(self) -> bool:
        """True for fentanyl, listed analogues and class-wide fentanyl-related substances."""
        return self.category in FENTANYL_CLASSES and not self.error

    @property
    def family(self) -> str:
        """One of fentanyl, nitazene, other_opioid, precursor, none (an item that could not be
        classified: the family its name suggests, else none)."""
        if self.error:
            return self.family_hint or "none"
        if self.category == "opioid_derivative":
            return family_of(self.subfamily or "none")
        return family_of(self.category)

    def control(self) -> tuple[bool | None, list[dict]]:
        """Return (controlled, records naming the instrument and schedule); ``controlled`` is
        None for an item that could not be classified (an unrecognized or street name, an
        unreadable structure): nothing identified, nothing asserted."""
        if self.error:
            return None, []
        controlled, records = control_for(self.category, self.substance)
        if self.controlled_override is not None:
            controlled = self.controlled_override
        return controlled, records + self.extra_control

    def name(self, lang: str = "es") -> str | None:
        """The substance name in the page's language (registry names only)."""
        if self.substance is not None:
            return self.substance.display_name(lang)
        return self.registry_name

    def as_dict(self) -> dict:
        self.key()
        es, en = CLASS_LABELS.get(self.category, (self.category, self.category))
        if self.error and self.category == "none":
            es, en = UNCLASSIFIED
        fam_es, fam_en = FAMILY_LABELS[self.family]
        if self.error:  # nothing identified: the family is at most suggested by the name
            fam_es, fam_en = (
                (SUGGESTED_FAMILY[0].format(family=fam_es), SUGGESTED_FAMILY[1].format(family=fam_en))
                if self.family_hint else UNDETERMINED_FAMILY)
        controlled, records = self.control()
        rule = RULES_BY_ID.get(self.subfamily or "")
        return {
            "query": self.query, "category": self.category, "label_es": es, "label_en": en,
            "family": self.family, "family_label_es": fam_es, "family_label_en": fam_en,
            "subfamily": self.subfamily,
            "subfamily_label_es": rule.label_es if rule else None,
            "subfamily_label_en": rule.label_en if rule else None,
            "controlled": controlled, "control": records,
            "control_source": "; ".join(r["source"] for r in records) or None,
            "review": self.review or controlled is None, "parent": self.parent,
            "fentanyl_class": self.fentanyl_class, "smiles": self.smiles,
            "inchikey": self.inchikey, "formula": self.formula,
            "registry_id": self.registry_id, "registry_name": self.registry_name,
            "name_es": self.name("es"), "name_en": self.name("en"),
            "iupac": self.substance.iupac or None if self.substance else None,
            "cas": self.substance.cas or None if self.substance else None,
            "clauses": [c.as_dict() for c in self.clauses],
            "matched_clauses": [c.clause for c in self.clauses],
            "reasons": list(self.reasons), "notes": list(self.notes),
            "components": [dict(c) for c in self.components],
            "error": self.error, "error_es": self.error_es,
            "family_hint": self.family_hint, "street_name": self.street,
        }


def _failure(query: str, exc: Exception) -> Classification:
    if isinstance(exc, StructureError):
        return Classification(query=query, category="none", error=str(exc),
                              error_es=exc.message_es)
    return Classification(  # never an exception for the batch: the item carries the error
        query=query, category="none",
        error=f"could not classify this item ({type(exc).__name__}: {str(exc)[:120]})",
        error_es=f"no se pudo clasificar este elemento ({type(exc).__name__})")


_NOT_FOUND = ("not a SMILES string nor a name in the substance registry",
              "no es un SMILES ni un nombre del registro de sustancias")
# A name that identifies nothing: never "not controlled" (police read this answer).
_UNRECOGNIZED = ("name not recognized: cannot say whether it is controlled; give the structure "
                 "(SMILES) or ask for a laboratory analysis",
                 "nombre no reconocido: no se puede afirmar si está fiscalizada; indique la "
                 "estructura (SMILES) o pida análisis de laboratorio")
_STREET = ("a street name does not identify the substance: cannot say whether it is controlled; "
           "give the structure (SMILES) or ask for a laboratory analysis",
           "un nombre callejero no identifica la sustancia: no se puede afirmar si está "
           "fiscalizada; indique la estructura (SMILES) o pida análisis de laboratorio")
_STREET_NOTE = ("{name!r} is a street name ({reading}): street names are unreliable, confirm by "
                "laboratory analysis")


def classify(query: str) -> Classification:
    """Classify a SMILES string or a registry name (what the API and the CLI return).

    Never raises: a structure that cannot be read or keyed comes back with ``error`` (English)
    and ``error_es`` (Spanish). A mixture or salt is split into its molecules; counter-ions are
    recognised, each other molecule is classified (``components``) and the answer is that of
    the most serious one (fentanyl > nitazene > other_opioid > precursor > none).
    """
    try:
        out = _classify(query)
        if out.structure is not None and out.inchikey is None:
            out.key()  # an InChI failure is this item's error, not an exception later
        return out
    except Exception as exc:  # noqa: BLE001 - per-item results, never a failed batch
        return _failure(query, exc)


def _classify(query: str) -> Classification:
    text = (query or "").strip()
    reg = registry()
    if reg.lookup_name(text) is not None:
        out = _classify_resolved(parse_query(text), query)
        street = reg.street_reading(text)
        if street is not None:  # "fenta" names fentanyl, but street names are unreliable
            out.street, out.review = street.as_dict(), True
            out.notes.append(_STREET_NOTE.format(name=street.name, reading=street.reading_en))
        return out
    if _INCHIKEY.match(text):  # a laboratory may report the key only
        hit = reg.by_inchikey(text)
        if hit is None:
            return Classification(
                query=query, category="none", inchikey=text,
                error="InChIKey not in the substance registry: give the structure (SMILES)",
                error_es="InChIKey ausente del registro de sustancias: indique la estructura "
                         "(SMILES)")
        out = classify_structure(standardize(hit.smiles), query=query)
        if out.inchikey and out.inchikey != text:
            out.notes.append(f"InChIKey {text} matches {hit.name} except for stereochemistry")
        return out
    if text.startswith("InChI="):
        mol = Chem.MolFromInchi(text, sanitize=True, removeHs=True, logLevel=None,
                                treatWarningAsError=False)
        if mol is None:
            return Classification(query=query, category="none",
                                  error="RDKit cannot read this InChI",
                                  error_es="RDKit no puede leer este InChI")
        smi = Chem.MolToSmiles(mol)
        return _classify_parsed(query, smi, Chem.MolFromSmiles(smi))
    mol = parse_smiles(text)
    return _classify_parsed(query, text, mol)


def _classify_parsed(query: str, text: str, mol: Chem.Mol | None,
                     raw_canonical: str | None = None) -> Classification:
    """Classify text already parsed (``mol``: its SMILES parse, or None for a name).

    ``raw_canonical`` is the canonical SMILES of ``mol`` when the caller computed it; for a
    neutral single molecule it is the standardized parent's canonical SMILES too.
    """
    if mol is None:
        if text and any(c in text for c in "()=#[]") and " " not in text \
                and not looks_like_iupac(text):
            return Classification(query=query, category="none",
                                  error=f"RDKit cannot parse SMILES {text[:80]!r}",
                                  error_es=f"RDKit no puede leer el SMILES {text[:80]!r}")
        res = resolve(name=text)
        return _classify_resolved(res, query)
    if "." in text:
        check_mol(mol, text)
        return classify_mixture(mol, query)
    parent = standardize(text, mol=mol)
    if raw_canonical is not None and parent.mol is mol:
        canonical = raw_canonical
    else:
        canonical = Chem.MolToSmiles(parent.mol)
    if not canonical:
        return Classification(query=query, category="none", error=_NOT_FOUND[0],
                              error_es=_NOT_FOUND[1])
    if canonical == text:  # re-reading the canonical SMILES would parse the same string again
        parent = Structure(mol=parent.mol, formula=parent.formula, salt_stripped=False,
                           smiles=canonical)
        return classify_structure(parent, query=query)
    return classify_structure(_in_canonical_order(parent, canonical), query=query)


def _in_canonical_order(parent: Structure, canonical: str) -> Structure:
    """The parent with its atoms in canonical order (what re-reading ``canonical`` gives)."""
    mol = Chem.MolFromSmiles(canonical)
    return Structure(mol=mol, formula=parent.formula, salt_stripped=parent.salt_stripped,
                     smiles=canonical)


def _classify_resolved(res: Resolution, query: str) -> Classification:
    if res.error or not res.smiles:
        if res.error:
            return Classification(query=query, category="none", error=res.error,
                                  error_es=res.error, reasons=res.notes)
        street = _street_reading(query, res)
        if street is not None:  # "M30", "china white": what it may be, not what it is
            return _street_item(query, street, res.notes)
        if res.family_hint:  # an unlisted name of a known family: review, not "not found"
            label_es, label_en = FAMILY_LABELS[res.family_hint]
            return Classification(
                query=query, category="unrecognized_name", reasons=res.notes,
                family_hint=res.family_hint,
                error=(f"{res.unlisted!r} is not in the substance registry; the name suggests "
                       f"{label_en}: give the structure (SMILES) or ask for expert review"),
                error_es=(f"«{res.unlisted}» no está en el registro de sustancias; el nombre "
                          f"sugiere {label_es}: indique la estructura (SMILES) o pida revisión "
                          "experta"))
        return Classification(query=query, category="unrecognized_name", error=_UNRECOGNIZED[0],
                              error_es=_UNRECOGNIZED[1], reasons=res.notes)
    mixture = res.component_smiles()
    if len(mixture) > 1:  # a reported mixture: every named substance is a component
        out = classify_mixture(Chem.MolFromSmiles(".".join(mixture)), query)
    else:
        out = classify_structure(standardize(res.smiles), query=query)
    out.notes.extend(n for n in res.notes if n not in out.notes)
    for part in res.components:  # "M30 con fentanilo": the street part stays a warning
        street = registry().street_reading(part["reported"]) if part["match"] == "street" else None
        if street is not None:
            out.notes.append(_STREET_NOTE.format(name=street.name, reading=street.reading_en))
    return out


def _street_reading(query: str, res: Resolution) -> StreetReading | None:
    """The street name a query is, alone or as the only part of its reported text."""
    reg = registry()
    found = reg.street_reading(query)
    if found is None:
        parts = [p["reported"] for p in res.components]
        if len(parts) == 1 and res.components[0]["match"] == "street":
            found = reg.street_reading(parts[0])
    return found


def _street_item(query: str, street: StreetReading, reasons: list[str]) -> Classification:
    """A street name that names no substance: its reading, the family it suggests, no control."""
    family = street.family if street.family not in (None, "none") else None
    return Classification(
        query=query, category="street_name", reasons=reasons, family_hint=family,
        street=street.as_dict(), review=True,
        error=f"{street.name!r}: {street.reading_en}; {_STREET[0]}",
        error_es=f"«{street.name}»: {street.reading_es}; {_STREET[1]}")


def classify_smiles(smiles: str) -> Classification:
    """Classify a SMILES string (no name lookup; the fast path of the benchmark)."""
    try:
        text = (smiles or "").strip()
        if "." in text:
            mol = parse_smiles(text)
            if mol is not None:
                check_mol(mol, text)
                return classify_mixture(mol, smiles)
        st = standardize(smiles)
        return classify_structure(st, query=smiles)
    except Exception as exc:  # noqa: BLE001 - per-item results
        return _failure(smiles, exc)


def classify_many(smiles: list[str], processes: int = 1) -> list[Classification]:
    """Classify many SMILES strings, optionally in worker processes (order is kept)."""
    if processes <= 1 or len(smiles) < 200:
        return [classify_smiles(s) for s in smiles]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=processes) as pool:
        return list(pool.map(classify_smiles, smiles, chunksize=max(50, len(smiles) // (4 * processes))))


def _seriousness(c: Classification) -> tuple:
    controlled, _ = c.control()
    return (FAMILY_RANK[c.family], controlled is not False and not c.error, c.category != "none",
            c.structure.mol.GetNumHeavyAtoms() if c.structure is not None else 0)


def classify_mixture(mol: Chem.Mol, query: str) -> Classification:
    """Classify every molecule of a salt or mixture; answer with the most serious one."""
    frags = Chem.GetMolFrags(mol, asMols=True)
    seen: dict[str, dict] = {}
    results: list[tuple[Classification, dict]] = []
    counter: list[dict] = []
    for frag in frags:
        if any(a.GetFormalCharge() for a in frag.GetAtoms()):
            frag = _UNCHARGER.uncharge(frag)
        smi = Chem.MolToSmiles(frag)
        if smi in seen:
            seen[smi]["count"] += 1
            continue
        ion = _COUNTER_IONS.get(smi)
        if ion is None and not any(a.GetAtomicNum() == 6 for a in frag.GetAtoms()):
            ion = "inorganic ion"
        rec = {"smiles": smi, "count": 1, "role": "counter_ion" if ion else "substance",
               "counter_ion": ion}
        if ion:
            rec.update(family="none", category="none", controlled=False)
        seen[smi] = rec
        if ion:
            counter.append(rec)
            continue
        st = Structure(mol=frag, formula=CalcMolFormula(frag), salt_stripped=False, smiles=smi)
        results.append((classify_structure(st, query=smi), rec))
    if not results:  # only ions or solvents: classify the largest as the substance
        st = standardize(Chem.MolToSmiles(mol))
        rec = {"smiles": st.smiles, "count": 1, "role": "substance", "counter_ion": None}
        counter = [c for c in counter if c["smiles"] != st.smiles]
        results.append((classify_structure(st, query=st.smiles), rec))
    for cls, rec in results:
        d = cls.as_dict()
        rec.update(family=d["family"], category=d["category"], controlled=d["controlled"],
                   control_source=d["control_source"], name=d["name_en"], name_es=d["name_es"],
                   inchikey=d["inchikey"], formula=d["formula"], registry_id=d["registry_id"],
                   review=d["review"], parent=d["parent"], error=d["error"])
    best, _ = max(results, key=lambda r: _seriousness(r[0]))
    best.query = query
    best.components = [rec for _, rec in results] + counter
    n_sub = len(results)
    if counter:
        best.notes.append("salt or solvate: counter-ions/solvents recognised ("
                          + ", ".join(c["counter_ion"] for c in counter) + ")")
    if n_sub > 1:
        best.notes.append(f"mixture of {n_sub} substances: family and control taken from the "
                          "most serious component")
    return best


_ESTER = Chem.MolFromSmarts("[#6;R][OX2]!@[CX3;!R](=O)[#6,#1]")


def _ester_parent(mol: Chem.Mol) -> Substance | None:
    """Registry entry of the alcohol/phenol a structure is an ester of (6-MAM -> morphine)."""
    matches = mol.GetSubstructMatches(_ESTER)
    if not matches:
        return None
    bonds = list({mol.GetBondBetweenAtoms(o, c).GetIdx() for _, o, c, *_ in matches})
    try:
        pieces = Chem.GetMolFrags(Chem.FragmentOnBonds(mol, bonds, addDummies=False),
                                  asMols=True, sanitizeFrags=True)
        core = max(pieces, key=lambda m: m.GetNumHeavyAtoms())
        smi = Chem.MolToSmiles(Chem.MolFromSmiles(Chem.MolToSmiles(core)))
        st = Structure(Chem.MolFromSmiles(smi), CalcMolFormula(Chem.MolFromSmiles(smi)), False,
                       smiles=smi)
    except Exception:  # noqa: BLE001 - no derivable parent
        return None
    hit, _ = registry().by_structure(st)
    return hit


_ISOTOPE = re.compile(r"\[\d")
_INCHIKEY = re.compile(r"^[A-Z]{14}-[A-Z]{10}-[A-Z]$")


def _isotope_free(st: Structure) -> Chem.Mol | None:
    """The molecule without isotope labels, or None when it has none (read off the SMILES)."""
    if not _ISOTOPE.search(st.smiles):
        return None
    mol = st.mol
    rw = Chem.RWMol(mol)
    for a in rw.GetAtoms():
        a.SetIsotope(0)
    out = Chem.RemoveHs(rw.GetMol())
    return out


def _derivative_parents(mol: Chem.Mol) -> list[tuple[str, Chem.Mol]]:
    """Parents of an amine N-oxide or quaternary ammonium: drop the O, or one N-alkyl group."""
    out = []
    for (n, o) in mol.GetSubstructMatches(_N_OXIDE):
        rw = Chem.RWMol(mol)
        rw.RemoveAtom(o)
        rw.GetAtomWithIdx(n).SetFormalCharge(0)
        out.append(("N-oxide", rw))
    for (n, *_rest) in mol.GetSubstructMatches(_QUATERNARY):
        atom = mol.GetAtomWithIdx(n)
        for nb in sorted(atom.GetNeighbors(), key=lambda a: a.GetDegree()):
            if nb.GetAtomicNum() != 6 or nb.GetIsAromatic() or nb.IsInRing():
                continue
            rw = Chem.RWMol(mol)
            rw.RemoveAtom(nb.GetIdx())  # a terminal methyl; larger groups drop their first atom
            rw.GetAtomWithIdx(n if n < nb.GetIdx() else n - 1).SetFormalCharge(0)
            out.append(("quaternary N-alkyl salt", rw))
            break
    parents = []
    for kind, rw in out:
        try:
            m = rw.GetMol()
            Chem.SanitizeMol(m)
            frags = Chem.GetMolFrags(m, asMols=True)
            parents.append((kind, max(frags, key=lambda f: f.GetNumHeavyAtoms())))
        except Exception:  # noqa: BLE001 - an underivable parent is simply not used
            continue
    return parents


def classify_structure(st: Structure, query: str = "") -> Classification:
    """Classify a standardized structure: registry first, then structural rules."""
    mol = st.mol
    plain = _isotope_free(st)
    if plain is not None:
        smi = Chem.MolToSmiles(plain)
        inner = classify_structure(Structure(plain, CalcMolFormula(plain), st.salt_stripped,
                                             smiles=smi), query=query)
        parent_name = inner.registry_name or smi
        inner.notes.append(f"isotopically labelled (e.g. a deuterated internal standard): "
                           f"classified as its unlabelled parent {parent_name}")
        inner.parent = parent_name
        inner.formula = CalcMolFormula(mol, True, True)  # labelled: C22H23D5N2O
        inner.structure, inner.smiles, inner.inchikey = st, None, None
        return inner
    out = Classification(query=query, category="none", formula=st.formula, structure=st)
    if st.salt_stripped:
        out.reasons.append("salt or mixture: classified the largest organic fragment")
    reg = registry()
    hit, exact = reg.by_structure(st)
    if hit is not None:
        out.registry_id, out.registry_name, out.substance = hit.id, hit.name, hit
        out.category = hit.category
        out.subfamily = hit.subfamily or None
        if exact:
            out.inchikey = hit.inchikey
            out.reasons.append(f"InChIKey matches registry entry {hit.name} ({hit.category})")
        else:
            out.reasons.append(f"same skeleton as registry entry {hit.name} ({hit.category}); "
                               "stereochemistry differs")
            group = reg.flat_groups.get(hit.flat_smiles, [])
            if len(group) > 1:
                out.notes.append("stereoisomers differ in control: "
                                 + ", ".join(s.name for s in group)
                                 + f"; without matching stereochemistry treated as {hit.name}")
                out.review = True
        if hit.control_note:
            out.notes.append(hit.control_note)
        if hit.category == "listed_fentanyl_analogue" and (core := analyse_core(mol)):
            out.clauses = core[0]
        if hit.category == "precursor":
            out.reasons.append("named as a precursor, NOT a fentanyl-related substance")
        if not out.subfamily and hit.category not in ("non_opioid", "precursor"):
            rule = family_rule(mol)
            out.subfamily = rule.id if rule else None
        return out
    if mol.HasSubstructMatch(_N_OXIDE) or mol.HasSubstructMatch(_QUATERNARY):
        for kind, pmol in _derivative_parents(mol):
            psmi = Chem.MolToSmiles(pmol)
            parent = classify_structure(Structure(pmol, CalcMolFormula(pmol), False, smiles=psmi),
                                        query=psmi)
            if parent.family == "none" or parent.category == "precursor":
                continue
            pname = parent.registry_name or psmi
            out.category = "opioid_derivative"
            out.subfamily = parent.category
            out.parent = pname
            out.review = True
            out.reasons.append(f"{kind} of {pname} ({parent.category}): flagged for expert "
                               "review with its parent named")
            pcontrolled, _ = parent.control()
            if parent.registry_id in ("morphine", "codeine") or (
                    parent.substance is not None and parent.substance.subfamily == "morphinan"
                    and parent.registry_id in ("heroin",)):
                from centinela.ews.control import pentavalent_morphine_record

                out.controlled_override = True
                out.extra_control = [pentavalent_morphine_record()]
            elif pcontrolled:
                out.notes.append(f"parent {pname} is controlled; this derivative is not "
                                 "individually listed (may be a prodrug or an artefact)")
            return out
    core = analyse_core(mol)
    if core is not None:
        clauses, problems = core
        if problems:
            out.category = "fentanyl_scaffold_outside_class"
            out.reasons.extend(problems)
            out.clauses = clauses
            out.review = True
        elif not clauses:
            out.category = "fentanyl"
            out.reasons.append("fentanyl core with no modification (stereo or isotope variant)")
        else:
            out.category = "fentanyl_related"
            out.clauses = clauses
            out.reasons.append("core N-(1-(2-arylethyl)piperidin-4-yl)-N-aryl-amide found; "
                               "every modification is covered by clauses "
                               + ", ".join(c.clause for c in clauses))
        return out
    for label, patt in _PRECURSOR_LIKE:
        if mol.HasSubstructMatch(patt):
            out.category = "precursor"
            out.review = True
            out.reasons.append(label + ": precursor-like, NOT a fentanyl-related substance")
            out.notes.append("analogue of a listed precursor, not itself listed: expert review")
            return out
    rule = family_rule(mol)
    if rule is not None:
        out.category = rule.category
        out.subfamily = rule.id
        out.review = True
        out.reasons.append(f"matches the {rule.label_en} rule: {rule.rule}")
        base = _ester_parent(mol)
        if base is not None and base.schedules:
            out.parent = base.name
            out.controlled_override = True
            out.extra_control = [{
                "jurisdiction": "UN", "instrument": "Convención Única de 1961",
                "schedule": f"ésteres y éteres de {base.name_es} (Lista de la sustancia madre)",
                "source": f"Convención Única de 1961: ésteres de {base.name_es}"}]
            out.notes.append(f"ester of {base.name}: esters and ethers of listed substances "
                             "are listed with them")
        else:
            out.notes.append("member of an opioid family, not individually listed: expert "
                             "review (candidate for scheduling)")
        return out
    if mol.HasSubstructMatch(_LOOSE):
        out.category = "fentanyl_scaffold_outside_class"
        out.review = True
        out.reasons.append("4-anilidopiperidine scaffold, but the piperidine N-substituent is not "
                           "a 2-(monocycle)ethyl group or the anilide ring is not aromatic")
        return out
    out.reasons.append("no registry match and no opioid core pattern")
    return out


_RECORDS: dict[str, dict] = {}


def classify_record(text: str) -> dict:
    """Return ``classify(text).as_dict()``, remembered per process (do not mutate it).

    Laboratory feeds repeat the same few substances (registry hits) written in many ways; a
    record depends only on the structure read (or the registry entry named), so it is kept
    under the text, the canonical SMILES of the structure as read and the registry id named,
    and only ``query`` differs between texts of one structure (bounded memory).
    """
    hit = _RECORDS.get(text)
    if hit is not None:
        return hit
    key = mol = can = None
    stripped = (text or "").strip()
    # a street name that is a synonym ("fenta") answers with its warning: not the entry's record
    street = registry().street_reading(stripped) is not None
    if stripped and "." not in stripped and " " not in stripped:
        sub = registry().lookup_name(stripped)
        if sub is not None:
            key = None if street else "name:" + sub.id
        else:
            mol = parse_smiles(stripped)
            if mol is not None:
                can = Chem.MolToSmiles(mol)
                key = "smiles:" + can
    elif stripped and not street and (sub := registry().lookup_name(stripped)) is not None:
        key = "name:" + sub.id
    if key is not None and key in _RECORDS:
        rec = {**_RECORDS[key], "query": text}
    elif can is not None:  # parsed once here, not again by classify()
        try:
            out = _classify_parsed(text, stripped, mol, can)
            if out.structure is not None and out.inchikey is None:
                out.key()
        except Exception as exc:  # noqa: BLE001 - per-item results
            out = _failure(text, exc)
        rec = out.as_dict()
    else:
        rec = classify(text).as_dict()
        if key is not None and len(_RECORDS) < 200_000:
            _RECORDS[key] = rec
    if len(_RECORDS) < 200_000:
        _RECORDS[text] = rec
    return rec


def _record_chunk(texts: list[str]) -> list[dict]:
    return [classify_record(t) for t in texts]


def classify_lines(lines, processes: int = 1, chunk: int = 256):
    """Yield (line number, record) for each non-blank line (comments with '#' skipped).

    One structure or name per line; per-item errors, never an exception for the batch. With
    ``processes`` > 1 the work is spread over worker processes in chunks (order kept).
    """
    def batches():
        buf: list[tuple[int, str]] = []
        for n, raw in enumerate(lines, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            buf.append((n, text))
            if len(buf) >= chunk:
                yield buf
                buf = []
        if buf:
            yield buf

    if processes <= 1:
        for batch in batches():
            for n, text in batch:
                yield n, classify_record(text)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=processes) as pool:
        pending = []
        for batch in batches():
            pending.append((batch, pool.submit(_record_chunk, [t for _, t in batch])))
            if len(pending) >= 4 * processes:
                b, fut = pending.pop(0)
                yield from zip((n for n, _ in b), fut.result(), strict=True)
        for b, fut in pending:
            yield from zip((n for n, _ in b), fut.result(), strict=True)
