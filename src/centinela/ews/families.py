"""Structural rules of the opioid families beyond the fentanyl class, one SMARTS rule each.

Each rule names a pharmacophore that defines a family of synthetic or semi-synthetic opioids and
is written to be general (any substituent outside the pharmacophore is allowed) yet to keep known
non-opioid look-alikes out. The look-alikes each rule was checked against are named next to it;
``docs/ews.md`` documents the rules and ``tests/data/ews_structures.csv`` exercises them.
A rule hit on a structure that is not in the registry means "member of an opioid family, not
individually listed": it is reported as ``other_opioid`` (or ``nitazene``) for expert review.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem

_BASIC_N = "[NX3;!$(N-[CX3]=[O,S,N]);!$(N-a);!$(N-S(=O)=O);!$(N#*);!$(N=*)]"


@dataclass(frozen=True)
class FamilyRule:
    """One family: its id, category, labels and SMARTS pattern(s) (any one must match)."""

    id: str
    category: str
    label_es: str
    label_en: str
    rule: str
    patterns: tuple[Chem.Mol, ...]

    def matches(self, mol: Chem.Mol) -> bool:
        return any(mol.HasSubstructMatch(p) for p in self.patterns)


def _p(*smarts: str) -> tuple[Chem.Mol, ...]:
    out = tuple(Chem.MolFromSmarts(s) for s in smarts)
    assert all(p is not None for p in out), smarts
    return out


RULES: tuple[FamilyRule, ...] = (
    # Nitazenes: 2-benzylbenzimidazole with a basic amine two carbons from N1. The nitro group is
    # not required (desnitro variants: etodesnitazene, metodesnitazene); the amine may be
    # acyclic (diethyl, N-desethyl) or a ring (pyrrolidino -pyne, piperidino -pipne).
    # Look-alikes kept out: clemizole (no aminoethyl on N1), astemizole, bendazol (no amine).
    FamilyRule("nitazene", "nitazene", "nitaceno (2-bencilbencimidazol)",
               "nitazene (2-benzylbenzimidazole)",
               "2-benzyl-1-(2-aminoethyl)benzimidazole, basic amine",
               _p(f"{_BASIC_N}-[CH2]-[CH2]-n1c(-[CH2]-c2ccccc2)nc2ccccc21")),
    # Brorphine-like: 1-(1-(1-arylalkyl)piperidin-4-yl)benzimidazol-2-one. Look-alikes kept out:
    # benperidol, domperidone, droperidol (the piperidine N carries a chain, not an aryl-alkyl).
    FamilyRule("benzimidazolone", "brorphine_like", "tipo brorfina (bencimidazolona)",
               "brorphine-like (benzimidazolone)",
               "1-(1-(1-arylalkyl)piperidin-4-yl)-1,3-dihydrobenzimidazol-2-one",
               _p("O=c1[nX3]c2ccccc2n1[CH1;R]1[CH2][CH2][NX3]([CX4;!R]a)[CH2][CH2]1")),
    # U-series: trans-1,2-diaminocyclohexane, one N basic, the other acylated by an aroyl or
    # arylacetyl (U-47700, U-48800, U-49900, U-50488, U-51754). AH-7921 type: 1-(dialkylamino)
    # cyclohexylmethyl amide of a benzoic acid. Look-alikes kept out: metoclopramide, sulpiride,
    # procainamide (benzamides of an open-chain amine).
    FamilyRule("benzamide", "u_series", "benzamida tipo U-47700 / AH-7921",
               "U-47700 / AH-7921 type benzamide",
               "N-(2-aminocyclohexyl)-aroyl/arylacetamide or "
               "N-((1-aminocyclohexyl)methyl)benzamide",
               _p(f"{_BASIC_N}-[CH1;R1]1-[CH2;R1]-[CH2;R1]-[CH2;R1]-[CH2;R1]-[CH1;R1]1"
                  "-[NX3]-C(=O)-[$(a),$([CH2]a)]",
                  f"{_BASIC_N}-[CX4;R1]1([CH2;!R][NX3]C(=O)[$(a),$([CH2]a)])CCCCC1")),
    # Morphinans and oripavines (incl. 4,5-epoxymorphinans, 6,14-ethenomorphinans such as
    # buprenorphine and etorphine) and 6,7-benzomorphans (pentazocine). The tetracyclic
    # skeleton is written with any bond order in the non-aromatic rings. Non-opioid morphinans
    # (dextromethorphan, dextrorphan) differ only by stereochemistry: they are registry entries,
    # and an antagonist (naloxone, naltrexone) is named by the registry too.
    FamilyRule("morphinan", "other_opioid", "morfinano / oripavina", "morphinan / oripavine",
               "morphinan skeleton (benzene fused to a hydrophenanthrene bridged by C-C-N) or "
               "6,7-benzomorphan",
               _p("[#6]1~[#6]~[#6]~[#6]23~[#6]~[#6]~[#7]~[#6](~[#6]~2~[#6]~1)~[#6]~c1ccccc~3~1",
                  "[#6]12~[#6]~[#6]~[#7]~[#6](~[#6]~1)~[#6]~c1ccccc~2~1")),
    # Pethidine type: 4-aryl-piperidine whose C4 also carries an ester (either way round) or a
    # ketone, basic ring N (pethidine, ketobemidone, prodines, MPPP, diphenoxylate). Look-alikes
    # kept out: haloperidol and loperamide (4-aryl-4-hydroxy), paroxetine (C4-H),
    # methylphenidate (aryl outside the ring).
    FamilyRule("phenylpiperidine", "other_opioid", "fenilpiperidina (tipo petidina)",
               "phenylpiperidine (pethidine type)",
               "4-aryl-4-(ester, acyloxy or acyl)piperidine with a basic nitrogen",
               _p(f"{_BASIC_N}1[CH2,CH1][CH2,CH1][CX4;R1](a)([$([CX3](=O)O[#6]),"
                  "$(O[CX3](=O)[#6]),$([CX3](=O)[CX4])])[CH2,CH1][CH2,CH1]1")),
    # Methadone type: a quaternary carbon with two phenyls, a ketone/ring amide/acyloxy-alkyl and
    # a 2-carbon chain to a basic amine (methadone, dipipanone, dextromoramide, LAAM,
    # normethadone; propoxyphene by a second pattern). Look-alikes kept out: diphenhydramine
    # (CH, ether), aminopentamide (primary amide), loperamide (open-chain amide; a registry
    # entry), cyclizine.
    FamilyRule("diphenylpropylamine", "other_opioid", "difenilpropilamina (tipo metadona)",
               "diphenylpropylamine (methadone type)",
               "C(Ph)2 bearing an alkanoyl, a ring amide or an acyloxyalkyl, and CC-N(basic)",
               _p(f"[CX4;!R](c1ccccc1)(c1ccccc1)([$([CX3](=O)[CX4;H2,H3]),$([CX3](=O)[NX3;R]),"
                  f"$([CX4][OX2][CX3]=O)])[CX4][CX4]{_BASIC_N}",
                  # propoxyphene: 1,2-diphenyl-2-acyloxy-3-methyl-4-aminobutane
                  f"[CX4;!R](O[CX3](=O)[CX4])(c1ccccc1)([CH2]c1ccccc1)[CX4][CH2]{_BASIC_N}")),
    # Tramadol / tapentadol type: a 3-hydroxy- or 3-methoxyphenyl on a carbon two bonds from a
    # CH2-N-methyl amine (tramadol, O-desmethyltramadol, tapentadol). Look-alikes kept out:
    # venlafaxine (para, one carbon closer), ciramadol-like ethers.
    FamilyRule("tramadol_type", "other_opioid", "tipo tramadol / tapentadol",
               "tramadol / tapentadol type",
               "3-(HO/MeO)-phenyl-C-C-CH2-N(CH3)R, basic",
               _p("[OX2;H1,$(O[CH3])]c1cccc(c1)[CX4][CX4][CH2][NX3;H0,H1;!$(N-C=O)]([CH3])")),
    # MT-45 type: 1-(1,2-diarylethyl)piperazine whose other N carries an alkyl/cycloalkyl.
    # Look-alikes kept out: diphenidine and ephenidine (piperidine / open amine), cyclizine and
    # cinnarizine (benzhydryl, no CH2 between the aryls).
    FamilyRule("piperazine_mt45", "other_opioid", "piperazina tipo MT-45", "MT-45 type piperazine",
               "1-(1,2-diarylethyl)-4-alkylpiperazine",
               _p("[CX4;!R]([CH2]a)(a)N1[CX4][CX4]N([CX4;!$(C-a)])[CX4][CX4]1")),
    # AP-237 type: 1-alkanoyl-4-cinnamylpiperazine (bucinnazine, 2-methyl-AP-237, AP-238,
    # para-methyl-AP-237). Look-alikes kept out: cinnarizine, flunarizine (no acyl).
    FamilyRule("acylpiperazine", "other_opioid", "acilpiperazina (tipo AP-237)",
               "acylpiperazine (AP-237 type)",
               "1-alkanoyl-4-(3-arylprop-2-enyl)piperazine",
               _p("[CX4][CX3](=O)N1[CX4][CX4]N([CH2][CX3]=[CX3]a)[CX4][CX4]1")),
)
RULES_BY_ID = {r.id: r for r in RULES}


def family_rule(mol: Chem.Mol) -> FamilyRule | None:
    """Return the first family rule the molecule matches, or None."""
    for rule in RULES:
        if rule.matches(mol):
            return rule
    return None
