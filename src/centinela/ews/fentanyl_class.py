"""The class-wide definition of fentanyl-related substances, analysed structurally.

Finds the core N-(1-(2-arylethyl)piperidin-4-yl)-N-aryl-amide and examines each part: the
phenethyl ring (A), substituents on the phenethyl group (B) and the piperidine (C), the aniline
ring (D) and the acyl group (E). Returns the matched clauses and the reasons a structure falls
outside the definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdkit import Chem

CLAUSE_TITLES = {
    "A": ("(A) fenilo del grupo fenetilo reemplazado por otro monociclo",
          "(A) phenethyl phenyl replaced by another monocycle"),
    "B": ("(B) sustitución en el grupo fenetilo", "(B) substitution in or on the phenethyl group"),
    "C": ("(C) sustitución en el anillo de piperidina", "(C) substitution in or on the piperidine ring"),
    "D": ("(D) anillo de anilina reemplazado por un monociclo aromático",
          "(D) aniline ring replaced by an aromatic monocycle"),
    "E": ("(E) N-propionilo reemplazado por otro grupo acilo",
          "(E) N-propionyl replaced by another acyl group"),
}
B_GROUPS = frozenset({"alkyl", "alkenyl", "alkoxyl", "hydroxyl", "halo", "haloalkyl", "amino", "nitro"})
C_GROUPS = B_GROUPS | {"ester", "ether"}
HALOGENS = frozenset({9, 17, 35, 53})
# Matched atom order: 0 C=O carbon, 1 O, 2 amide N, 3 aniline ipso, 4 piperidine C4, 5 C3, 6 C2,
# 7 N1, 8 C-alpha, 9 C-beta, 10 ring atom of the phenethyl ring, 11 C6, 12 C5.
_CORE = Chem.MolFromSmarts(
    "[CX3](=[OX1])[NX3;!R]([a;r])[CX4;R1]1[CX4;R1][CX4;R1][NX3;R1]([CX4;!R][CX4;!R][*;R])"
    "[CX4;R1][CX4;R1]1"
)
ACYL_NAMES = {
    "CCC(=O)*": "propionyl", "CC(=O)*": "acetyl", "CCCC(=O)*": "butyryl",
    "CC(C)C(=O)*": "isobutyryl", "CCCCC(=O)*": "valeryl", "C=CC(=O)*": "acryloyl",
    "O=C(*)C1CC1": "cyclopropanecarbonyl", "O=C(*)c1ccco1": "furan-2-carbonyl",
    "COCC(=O)*": "methoxyacetyl", "O=C(*)C1CCCO1": "tetrahydrofuran-2-carbonyl",
    "O=C(*)c1ccccc1": "benzoyl", "O=C*": "formyl", "CCOC(=O)*": "ethoxycarbonyl (carbamate)",
    "CC=CC(=O)*": "crotonyl", "O=C(*)C1CCCC1": "cyclopentanecarbonyl",
}
_ACYL_CANON = {Chem.MolToSmiles(Chem.MolFromSmiles(k)): v for k, v in ACYL_NAMES.items()}


@dataclass
class Clause:
    clause: str
    title_es: str
    title_en: str
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"clause": self.clause, "title_es": self.title_es, "title_en": self.title_en,
                "details": list(self.details)}


def analyse_core(mol: Chem.Mol) -> tuple[list[Clause], list[str]] | None:
    """Return (matched clauses, reasons it falls outside) for the fentanyl core, or None."""
    matches = mol.GetSubstructMatches(_CORE, maxMatches=8)
    if not matches:
        return None
    best = None
    for m in matches:
        result = _clauses_for(mol, m)
        if best is None or len(result[1]) < len(best[1]) or (
                len(result[1]) == len(best[1]) and len(result[0]) < len(best[0])):
            best = result
    return best


def _ring_of(atom_rings: tuple[tuple[int, ...], ...], idx: int) -> tuple[int, ...] | None:
    rings = [r for r in atom_rings if idx in r]
    return min(rings, key=len) if rings else None


def _clauses_for(mol: Chem.Mol, m: tuple[int, ...]) -> tuple[list[Clause], list[str]]:
    ri = mol.GetRingInfo()
    clauses: dict[str, list[str]] = {}
    problems: list[str] = []
    carbonyl, oxo, amide_n, ipso, c4, c3, c2, n1, ca, cb, ar, c6, c5 = m
    atom_rings = ri.AtomRings()
    pe_ring = _ring_of(atom_rings, ar)
    an_ring = _ring_of(atom_rings, ipso)
    pip = (c4, c3, c2, n1, c6, c5)
    core = set(m) | set(pe_ring or ()) | set(an_ring or ())

    # (A) the phenethyl ring
    if any(ri.NumAtomRings(i) > 1 for i in pe_ring):
        problems.append("phenethyl ring is part of a fused or spiro ring system (not a monocycle)")
    pe_is_phenyl = _is_benzene(mol, pe_ring)
    if not pe_is_phenyl:
        clauses["A"] = [f"phenyl replaced by {_describe_ring(mol, pe_ring)}"]
    # (D) the aniline ring
    if any(ri.NumAtomRings(i) > 1 for i in an_ring) or not all(
            mol.GetAtomWithIdx(i).GetIsAromatic() for i in an_ring):
        problems.append("aniline ring is not an aromatic monocycle")
    elif not _is_benzene(mol, an_ring):
        clauses.setdefault("D", []).append(f"aniline ring replaced by {_describe_ring(mol, an_ring)}")
    # substituents, part by part
    parts = (("phenethyl", (ca, cb, *pe_ring)), ("piperidine", pip), ("aniline", an_ring))
    for part, atoms in parts:
        for idx in atoms:
            for nb in mol.GetAtomWithIdx(idx).GetNeighbors():
                j = nb.GetIdx()
                if j in core:
                    continue
                group, frag, bridged = _substituent(mol, idx, j, core)
                where = _position(part, idx, m, pe_ring, an_ring)
                if bridged:
                    problems.append(f"{part}: {frag} bridges to the core at {where} "
                                    "(ring fusion is not a listed modification)")
                elif part == "aniline":
                    clauses.setdefault("D", []).append(
                        f"aromatic monocycle further substituted: {group} {frag} at {where}")
                elif part == "phenethyl" and idx in pe_ring and not pe_is_phenyl:
                    clauses["A"].append(f"replacement monocycle further substituted: {frag}")
                elif part == "phenethyl":
                    if group in B_GROUPS:
                        clauses.setdefault("B", []).append(f"{group} ({frag}) at {where}")
                    else:
                        problems.append(f"phenethyl group carries {frag} at {where}: {group} is "
                                        "not alkyl, alkenyl, alkoxyl, hydroxyl, halo, haloalkyl, "
                                        "amino or nitro")
                else:
                    if group in C_GROUPS:
                        clauses.setdefault("C", []).append(f"{group} ({frag}) at {where}")
                    else:
                        problems.append(f"piperidine ring carries {frag} at {where}: {group} is "
                                        "not among the groups of clause (C)")
    # (E) the acyl group
    acyl = _acyl(mol, carbonyl, oxo, amide_n)
    if acyl != "propionyl":
        clauses["E"] = [f"N-propionyl replaced by {acyl}"]
    out = [Clause(k, *CLAUSE_TITLES[k], details=v) for k, v in sorted(clauses.items())]
    return out, problems


def _is_benzene(mol: Chem.Mol, ring: tuple[int, ...]) -> bool:
    return len(ring) == 6 and all(
        mol.GetAtomWithIdx(i).GetAtomicNum() == 6 and mol.GetAtomWithIdx(i).GetIsAromatic()
        for i in ring)


def _describe_ring(mol: Chem.Mol, ring: tuple[int, ...]) -> str:
    key = ("ring", _signature(mol, ring[0], set(ring)))
    if key not in _FRAG_CACHE:
        _FRAG_CACHE[key] = _ring_text(mol, ring)
    return _FRAG_CACHE[key]


def _ring_text(mol: Chem.Mol, ring: tuple[int, ...]) -> str:
    sub = Chem.MolFragmentToSmiles(mol, atomsToUse=list(ring), canonical=True)
    hetero = sorted({mol.GetAtomWithIdx(i).GetSymbol() for i in ring} - {"C"})
    arom = "aromatic" if all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring) else "non-aromatic"
    names = {"c1ccsc1": "thiophene", "c1ccoc1": "furan", "c1ccncc1": "pyridine",
             "C1CCCCC1": "cyclohexane", "c1cc[nH]c1": "pyrrole", "c1cncs1": "thiazole"}
    label = names.get(sub, f"a {len(ring)}-membered {arom} ring")
    het = f" with {', '.join(hetero)}" if hetero else ""
    return f"{label} ({len(ring)}-membered, {arom}{het}: {sub})"


def _position(part: str, idx: int, m: tuple[int, ...], pe_ring, an_ring) -> str:
    names = {m[4]: "C4", m[5]: "C3/C5", m[6]: "C2/C6", m[11]: "C2/C6", m[12]: "C3/C5",
             m[8]: "C-alpha", m[9]: "C-beta"}
    if idx in names:
        return names[idx] if part != "piperidine" else f"piperidine {names[idx]}"
    ring, anchor = (pe_ring, m[10]) if part == "phenethyl" else (an_ring, m[3])
    if ring and anchor in ring:
        pos = ring.index(idx) - ring.index(anchor)
        dist = min(pos % len(ring), (-pos) % len(ring))
        return {1: "ring ortho", 2: "ring meta", 3: "ring para"}.get(dist, "ring")
    return "ring"


def _substituent(mol: Chem.Mol, attach: int, root: int, core: set[int]) -> tuple[str, str, bool]:
    """Return (group kind, fragment SMILES, bridges back to the core) for one substituent."""
    seen, stack, bridged = {root}, [root], False
    while stack:
        a = mol.GetAtomWithIdx(stack.pop())
        for nb in a.GetNeighbors():
            j = nb.GetIdx()
            if j in core:
                if not (a.GetIdx() == root and j == attach):
                    bridged = True
                continue
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return _group_kind(mol, root, seen), _fragment(mol, root, seen), bridged


_BOND = {Chem.BondType.DOUBLE: "=", Chem.BondType.TRIPLE: "#"}
_BOND_NAMES = {t: str(t) for t in Chem.BondType.values.values()}
_FRAG_CACHE: dict[tuple, str] = {}


def _fragment(mol: Chem.Mol, root: int, atoms: set[int]) -> str:
    """Write a substituent as SMILES (a fast writer for trees; RDKit, cached, for rings)."""
    if any(mol.GetAtomWithIdx(i).IsInRing() for i in atoms):
        key = _signature(mol, root, atoms)
        if key not in _FRAG_CACHE:
            _FRAG_CACHE[key] = Chem.MolFragmentToSmiles(mol, atomsToUse=sorted(atoms),
                                                        rootedAtAtom=root)
        return _FRAG_CACHE[key]

    def write(i: int, parent: int) -> str:
        a = mol.GetAtomWithIdx(i)
        sym = a.GetSymbol()
        charge = a.GetFormalCharge()
        if charge:
            sym = f"[{sym}{'+' if charge > 0 else '-'}]"
        parts = []
        for b in a.GetBonds():
            j = b.GetOtherAtomIdx(i)
            if j in atoms and j != parent:
                parts.append(_BOND.get(b.GetBondType(), "") + write(j, i))
        return sym + "".join(f"({p})" for p in parts[:-1]) + (parts[-1] if parts else "")

    return write(root, -1)


def _signature(mol: Chem.Mol, root: int, atoms: set[int]) -> tuple:
    """A cheap key of a fragment's graph (breadth-first atoms and bonds) for caching."""
    order, seen, out = [root], {root}, []
    for i in order:  # breadth first: the list grows while it is read
        a = mol.GetAtomWithIdx(i)
        nbs = []
        for b in a.GetBonds():
            j = b.GetOtherAtomIdx(i)
            if j in atoms:
                nbs.append((_BOND_NAMES[b.GetBondType()], mol.GetAtomWithIdx(j).GetAtomicNum()))
                if j not in seen:
                    seen.add(j)
                    order.append(j)
        out.append((a.GetAtomicNum(), a.GetIsAromatic(), a.GetTotalNumHs(),
                    a.GetFormalCharge(), tuple(sorted(nbs))))
    return tuple(out)


def _group_kind(mol: Chem.Mol, root: int, atoms: set[int]) -> str:
    """Name the chemical group of a substituent (alkyl, halo, ester, ...; 'other' if none)."""
    ats = [mol.GetAtomWithIdx(i) for i in atoms]
    r = mol.GetAtomWithIdx(root)
    nums = [a.GetAtomicNum() for a in ats]
    if any(a.GetIsAromatic() or a.IsInRing() and a.GetAtomicNum() != 6 for a in ats):
        return "other"
    bonds = {b.GetIdx(): b for a in ats for b in a.GetBonds()
             if b.GetOtherAtomIdx(a.GetIdx()) in atoms}.values()
    doubles = [b for b in bonds if b.GetBondType() == Chem.BondType.DOUBLE]
    triples = [b for b in bonds if b.GetBondType() == Chem.BondType.TRIPLE]
    if triples:
        return "other"
    if len(atoms) == 1 and r.GetAtomicNum() in HALOGENS:
        return "halo"
    if len(atoms) == 1 and r.GetAtomicNum() == 8:
        return "hydroxyl" if r.GetTotalNumHs() == 1 else "other"
    if r.GetAtomicNum() == 7 and nums.count(8) == 2 and len(atoms) == 3:
        return "nitro"
    if all(n == 6 for n in nums):
        return "alkenyl" if doubles and all(
            mol.GetAtomWithIdx(b.GetBeginAtomIdx()).GetAtomicNum() == 6
            and mol.GetAtomWithIdx(b.GetEndAtomIdx()).GetAtomicNum() == 6 for b in doubles
        ) else "alkyl"
    if r.GetAtomicNum() == 7 and not doubles and nums.count(7) == 1 and set(nums) <= {6, 7}:
        return "amino"
    if not doubles and set(nums) <= {6} | HALOGENS and r.GetAtomicNum() == 6:
        return "haloalkyl"
    carbonyl_o = [b for b in doubles if 8 in (mol.GetAtomWithIdx(b.GetBeginAtomIdx()).GetAtomicNum(),
                                             mol.GetAtomWithIdx(b.GetEndAtomIdx()).GetAtomicNum())]
    if set(nums) <= {6, 8} and len(doubles) == 1 and carbonyl_o and nums.count(8) == 2:
        ester_o = [a for a in ats if a.GetAtomicNum() == 8 and a.GetDegree() == 2]
        if ester_o:
            return "ester"
    if set(nums) <= {6, 8} and not doubles:
        ether_o = [a for a in ats if a.GetAtomicNum() == 8 and a.GetDegree() == 2]
        if r.GetAtomicNum() == 8 and len(ether_o) == 1 and nums.count(8) == 1:
            return "alkoxyl"
        if ether_o and all(a.GetTotalNumHs() == 0 for a in ats if a.GetAtomicNum() == 8):
            return "ether"
    return "other"


def _acyl(mol: Chem.Mol, carbonyl: int, oxo: int, amide_n: int) -> str:
    """Name the acyl group on the anilide nitrogen (R-C(=O)-)."""
    c = mol.GetAtomWithIdx(carbonyl)
    rest = [nb.GetIdx() for nb in c.GetNeighbors() if nb.GetIdx() not in (oxo, amide_n)]
    if not rest:
        return "formyl"
    first = mol.GetAtomWithIdx(rest[0])
    if first.GetAtomicNum() == 6 and first.GetDegree() == 2 and not first.GetIsAromatic():
        tail = [nb for nb in first.GetNeighbors() if nb.GetIdx() != carbonyl]
        if tail[0].GetAtomicNum() == 6 and tail[0].GetDegree() == 1 and \
                tail[0].GetTotalNumHs() == 3 and first.GetTotalNumHs() == 2:
            return "propionyl"  # fast path: the unmodified fentanyl acyl
    seen, stack = {rest[0]}, [rest[0]]
    while stack:
        for nb in mol.GetAtomWithIdx(stack.pop()).GetNeighbors():
            j = nb.GetIdx()
            if j not in seen and j not in (carbonyl, amide_n):
                seen.add(j)
                stack.append(j)
    key = ("acyl", _signature(mol, carbonyl, seen | {carbonyl, oxo}))
    if key in _FRAG_CACHE:
        return _FRAG_CACHE[key]
    rw = Chem.RWMol(Chem.MolFromSmiles(Chem.MolFragmentToSmiles(
        mol, atomsToUse=sorted(seen | {carbonyl, oxo, amide_n}))))
    for a in rw.GetAtoms():
        if a.GetAtomicNum() == 7 and a.GetDegree() == 1 and not a.IsInRing() and a.GetTotalNumHs() == 2:
            a.SetAtomicNum(0)
            a.SetNoImplicit(True)
            a.SetNumExplicitHs(0)
            break
    smi = Chem.MolToSmiles(rw)
    _FRAG_CACHE[key] = _ACYL_CANON.get(smi, f"acyl {smi}")
    return _FRAG_CACHE[key]
