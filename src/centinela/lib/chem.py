"""RDKit helpers: parse, strip salts, canonicalize and key a structure by InChIKey."""

from __future__ import annotations

import re

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # invalid input is reported by us, with where and why

_CHOOSER = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
_UNCHARGER = rdMolStandardize.Uncharger()
_CHARGED = re.compile(r"\[[^\]]*[+-]")  # a charge written inside a bracket atom


MAX_HEAVY_ATOMS = 400  # far above any drug (buprenorphine: 33); InChI gives up past 1,024
MAX_SMILES_CHARS = 2000


class StructureError(ValueError):
    """A structure we cannot work with; ``message_es`` is the Spanish twin of the message."""

    def __init__(self, message: str, message_es: str | None = None) -> None:
        super().__init__(message)
        self.message_es = message_es or message


def check_mol(mol: Chem.Mol, text: str) -> None:
    """Reject what parses but is no real molecule: dummy atoms, query atoms, giant chains."""
    heavy = mol.GetNumHeavyAtoms()
    if heavy > MAX_HEAVY_ATOMS:
        raise StructureError(
            f"structure too large: {heavy} heavy atoms (limit {MAX_HEAVY_ATOMS}); not a drug-like "
            "molecule",
            f"estructura demasiado grande: {heavy} átomos pesados (límite {MAX_HEAVY_ATOMS}); no "
            "es una molécula de tipo fármaco")
    if mol.HasSubstructMatch(_DUMMY):  # C++ search: iterating atoms in Python costs more
        a = mol.GetAtomWithIdx(mol.GetSubstructMatch(_DUMMY)[0])
        raise StructureError(
                f"SMILES {text[:80]!r} has a dummy or wildcard atom ('*' or R group) at atom "
                f"{a.GetIdx() + 1}: give the full structure",
                f"el SMILES {text[:80]!r} tiene un átomo comodín ('*' o grupo R) en el átomo "
                f"{a.GetIdx() + 1}: indique la estructura completa")


_DUMMY = Chem.MolFromSmarts("[#0]")


class Structure:
    """A standardized parent structure (largest organic fragment, neutralized).

    The canonical SMILES and the InChIKey are computed on first use: InChI generation is the
    most expensive step, and most classifications never need either.
    """

    __slots__ = ("mol", "formula", "salt_stripped", "_smiles", "_inchikey")

    def __init__(self, mol: Chem.Mol, formula: str, salt_stripped: bool,
                 smiles: str | None = None, inchikey: str | None = None) -> None:
        self.mol, self.formula, self.salt_stripped = mol, formula, salt_stripped
        self._smiles, self._inchikey = smiles, inchikey

    @property
    def smiles(self) -> str:
        """Canonical isomeric SMILES (computed on first use)."""
        if self._smiles is None:
            self._smiles = Chem.MolToSmiles(self.mol)
        return self._smiles

    @property
    def inchikey(self) -> str:
        if self._inchikey is None:
            try:
                key = Chem.MolToInchiKey(self.mol)
            except Exception:  # noqa: BLE001 - InChI's own failures become our error
                key = ""
            if not key:
                raise StructureError(f"no InChIKey for SMILES {self.smiles[:80]!r}",
                                     f"no se pudo calcular el InChIKey de {self.smiles[:80]!r}")
            self._inchikey = key
        return self._inchikey

    @property
    def flat_smiles(self) -> str:
        """Canonical SMILES without stereochemistry (stereo-insensitive registry matching)."""
        if not any(c in self.smiles for c in "@/\\"):
            return self.smiles
        return Chem.MolToSmiles(self.mol, isomericSmiles=False)


def looks_like_smiles(text: str) -> bool:
    """Return True when ``text`` parses as SMILES (names like 'fentanyl' do not)."""
    text = text.strip()
    if not text or " " in text:
        return False
    return Chem.MolFromSmiles(text) is not None


def parse_smiles(text: str) -> Chem.Mol | None:
    """Parse stripped ``text`` as SMILES; None for what :func:`looks_like_smiles` rejects."""
    if not text or " " in text:
        return None
    return Chem.MolFromSmiles(text)


def standardize(smiles: str, mol: Chem.Mol | None = None) -> Structure:
    """Parse SMILES, keep the largest organic fragment, neutralize, canonicalize and key it.

    ``mol``, when given, is ``Chem.MolFromSmiles`` of the stripped ``smiles`` already parsed
    by the caller (it is not parsed again).
    """
    text = (smiles or "").strip()
    if not text:
        raise StructureError("empty SMILES", "SMILES vacío")
    if len(text) > MAX_SMILES_CHARS:
        raise StructureError(f"SMILES longer than {MAX_SMILES_CHARS} characters",
                             f"SMILES de más de {MAX_SMILES_CHARS} caracteres")
    if mol is None:
        mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise StructureError(f"RDKit cannot parse SMILES {text[:80]!r}",
                             f"RDKit no puede leer el SMILES {text[:80]!r}")
    check_mol(mol, text)
    stripped = len(Chem.GetMolFrags(mol)) > 1
    if stripped:
        mol = _CHOOSER.choose(mol)
    if _CHARGED.search(text):
        mol = _UNCHARGER.uncharge(mol)
    return Structure(mol=mol, formula=CalcMolFormula(mol), salt_stripped=stripped)


def structure_problem(text: str) -> StructureError | None:
    """Return why a SMILES cannot be used (unparsable, wildcard, too large, no InChIKey), or None.

    Intake calls this so that a record with such a structure is rejected with its reason
    instead of being stored and breaking every later step.
    """
    text = (text or "").strip()
    if len(text) > MAX_SMILES_CHARS:
        return StructureError(f"SMILES longer than {MAX_SMILES_CHARS} characters",
                              f"SMILES de más de {MAX_SMILES_CHARS} caracteres")
    mol = Chem.MolFromSmiles(text) if text else None
    if mol is None:
        return StructureError(f"RDKit cannot parse SMILES {text[:80]!r}",
                              f"RDKit no puede leer el SMILES {text[:80]!r}")
    try:
        check_mol(mol, text)
        for frag in Chem.GetMolFrags(mol, asMols=True):
            if not Chem.MolToInchiKey(frag):
                raise StructureError(f"no InChIKey for SMILES {text[:80]!r}",
                                     f"no se pudo calcular el InChIKey de {text[:80]!r}")
    except StructureError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - any RDKit failure is this record's problem
        return StructureError(f"structure cannot be processed: {type(exc).__name__}",
                              f"la estructura no se puede procesar: {type(exc).__name__}")
    return None


def connectivity(inchikey: str) -> str:
    """Return the first InChIKey block (skeleton without stereo or isotopes)."""
    return inchikey.split("-", 1)[0]
