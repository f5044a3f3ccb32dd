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

from dataclasses import dataclass, field

from rdkit import Chem

from centinela.ews.chem import Structure, StructureError, parse_smiles, standardize
from centinela.ews.fentanyl_class import Clause, analyse_core
from centinela.ews.registry import Resolution, parse_query, registry, resolve

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
    "other_opioid": ("Otro opioide fiscalizado", "Other controlled opioid"),
    "none": ("Ninguna de estas clases", "None of these classes"),
}
FENTANYL_CLASSES = ("fentanyl", "listed_fentanyl_analogue", "fentanyl_related")

_LOOSE = Chem.MolFromSmarts("[CX3](=O)[NX3;!R]([#6])[CX4;R]1[CX4;R][CX4;R][NX3;R]([#6])[CX4;R][CX4;R]1")
_FAMILIES = {
    "nitazene": Chem.MolFromSmarts(
        "[NX3;!$(N-C=O);!$(N-a)]-[CH2]-[CH2]-n1c(-[CH2]-c2ccccc2)nc2ccccc21"),
    "brorphine_like": Chem.MolFromSmarts(
        "O=c1[nX3]c2ccccc2n1[CH1;R]1[CH2][CH2][NX3]([CX4]a)[CH2][CH2]1"),
    "u_series": Chem.MolFromSmarts(
        "[NX3;!$(N-C=O);!$(N-a)]-[CH1;R1]1-[CH2;R1]-[CH2;R1]-[CH2;R1]-[CH2;R1]-[CH1;R1]1"
        "-[NX3]-C(=O)-[$(a),$([CH2]a)]"),
}
_PRECURSOR_LIKE = (
    ("4-ANPP analogue (4-anilinopiperidine with N-phenethyl, no acyl)", Chem.MolFromSmarts(
        "[NX3;H1;!R](a)[CX4;R1]1[CX4][CX4][NX3]([CX4][CX4][*;R])[CX4][CX4]1")),
    ("norfentanyl analogue (4-anilidopiperidine, free ring NH)", Chem.MolFromSmarts(
        "[CX3](=O)[NX3;!R](a)[CX4;R1]1[CX4][CX4][NX3;H1][CX4][CX4]1")),
    ("NPP analogue (N-phenethyl-4-piperidone)", Chem.MolFromSmarts(
        "O=[CX3;R1]1[CX4][CX4][NX3]([CX4][CX4][*;R])[CX4][CX4]1")),
)
@dataclass
class Classification:
    """The answer for one structure, with its reasons."""

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

    def key(self) -> str | None:
        """Return the InChIKey (and fill the canonical SMILES), computing them on first use."""
        if self.structure is not None:
            if self.smiles is None:
                self.smiles = self.structure.smiles
                self.query = self.query or self.smiles
            if self.inchikey is None:
                self.inchikey = self.structure.inchikey
        return self.inchikey

    def __getstate__(self) -> dict:
        self.key()  # worker processes send the key, not the molecule
        return {**self.__dict__, "structure": None}

    @property
    def fentanyl_class(self) -> bool:
        """True for fentanyl, listed analogues and class-wide fentanyl-related substances."""
        return self.category in FENTANYL_CLASSES

    def as_dict(self) -> dict:
        es, en = CLASS_LABELS.get(self.category, (self.category, self.category))
        self.key()
        return {
            "query": self.query, "category": self.category, "label_es": es, "label_en": en,
            "fentanyl_class": self.fentanyl_class, "smiles": self.smiles,
            "inchikey": self.inchikey, "formula": self.formula,
            "registry_id": self.registry_id, "registry_name": self.registry_name,
            "clauses": [c.as_dict() for c in self.clauses],
            "matched_clauses": [c.clause for c in self.clauses],
            "reasons": list(self.reasons), "error": self.error,
        }


def classify(query: str) -> Classification:
    """Classify a SMILES string or a registry name (what the API and the CLI return).

    Same answer as resolving the text with :func:`~centinela.ews.registry.parse_query` and
    classifying the canonical SMILES it resolves to, without that route's repeated work: the
    text is parsed once, and the InChIKey is computed once, on first use (``as_dict``), and not
    at all for an exact registry match.
    """
    text = (query or "").strip()
    reg = registry()
    if reg.lookup_name(text) is not None:
        return _classify_resolved(parse_query(text), query)
    mol = parse_smiles(text)
    if mol is None:
        return _classify_resolved(resolve(name=text), query)
    parent = standardize(text, mol=mol)
    canonical = Chem.MolToSmiles(parent.mol)
    if not canonical:
        return Classification(query=query, category="none",
                              error="not a SMILES string nor a name in the substance registry")
    if canonical == text:  # re-reading the canonical SMILES would parse the same string again
        parent = Structure(mol=parent.mol, formula=parent.formula, salt_stripped=False,
                           smiles=canonical)
        return classify_structure(parent, query=query)
    return classify_structure(standardize(canonical), query=query)


def _classify_resolved(res: Resolution, query: str) -> Classification:
    if res.error or not res.smiles:
        why = res.error or "not a SMILES string nor a name in the substance registry"
        return Classification(query=query, category="none", error=why, reasons=res.notes)
    try:
        st = standardize(res.smiles)
    except StructureError as exc:  # pragma: no cover - resolve() already parsed it
        return Classification(query=query, category="none", error=str(exc))
    return classify_structure(st, query=query)


def classify_smiles(smiles: str) -> Classification:
    """Classify a SMILES string (no name lookup; the fast path of the benchmark)."""
    try:
        st = standardize(smiles)
    except StructureError as exc:
        return Classification(query=smiles, category="none", error=str(exc))
    return classify_structure(st, query=smiles)


def classify_many(smiles: list[str], processes: int = 1) -> list[Classification]:
    """Classify many SMILES strings, optionally in worker processes (order is kept)."""
    if processes <= 1 or len(smiles) < 200:
        return [classify_smiles(s) for s in smiles]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=processes) as pool:
        return list(pool.map(classify_smiles, smiles, chunksize=max(50, len(smiles) // (4 * processes))))


def classify_structure(st: Structure, query: str = "") -> Classification:
    """Classify a standardized structure: registry first, then structural rules."""
    out = Classification(query=query, category="none", formula=st.formula, structure=st)
    if st.salt_stripped:
        out.reasons.append("salt or mixture: classified the largest organic fragment")
    hit, exact = registry().by_structure(st)
    mol = st.mol
    if hit is not None:
        out.registry_id, out.registry_name = hit.id, hit.name
        out.category = hit.category
        if exact:
            out.inchikey = hit.inchikey
            out.reasons.append(f"InChIKey matches registry entry {hit.name} ({hit.category})")
        else:
            out.reasons.append(f"same skeleton as registry entry {hit.name} ({hit.category}); "
                               "stereochemistry differs")
        if hit.category == "listed_fentanyl_analogue" and (core := analyse_core(mol)):
            out.clauses = core[0]
        if hit.category == "precursor":
            out.reasons.append("named as a precursor, NOT a fentanyl-related substance")
        return out
    core = analyse_core(mol)
    if core is not None:
        clauses, problems = core
        if problems:
            out.category = "fentanyl_scaffold_outside_class"
            out.reasons.extend(problems)
            out.clauses = clauses
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
            out.reasons.append(label + ": precursor-like, NOT a fentanyl-related substance")
            return out
    for family, patt in _FAMILIES.items():
        if mol.HasSubstructMatch(patt):
            out.category = family
            out.reasons.append(f"matches the {family} core pattern")
            return out
    if mol.HasSubstructMatch(_LOOSE):
        out.category = "fentanyl_scaffold_outside_class"
        out.reasons.append("4-anilidopiperidine scaffold, but the piperidine N-substituent is not "
                           "a 2-(monocycle)ethyl group or the anilide ring is not aromatic")
        return out
    out.reasons.append("no registry match and no opioid core pattern")
    return out
