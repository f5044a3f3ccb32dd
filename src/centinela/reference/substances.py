"""Classes of controlled substances and the dose equivalents used to weigh them.

Opioids are weighed in morphine milligram equivalents (``centinela.ledger.mme``).
Benzodiazepines and Z-drugs are weighed in diazepam milligram equivalents after the Ashton
Manual's table ("Benzodiazepines: how they work and how to withdraw", 2002, approximate
equivalents to 10 mg of oral diazepam): alprazolam 0.5, bromazepam 5, chlordiazepoxide 25,
clobazam 20, clonazepam 0.5, clorazepate 15, diazepam 10, estazolam 1.5, flunitrazepam 1,
flurazepam 22.5, lorazepam 1, lormetazepam 1.5, nitrazepam 10, oxazepam 20, temazepam 20,
triazolam 0.25, zaleplon 20, zolpidem 20, zopiclone 15; midazolam (not in Ashton) 7.5 mg
oral, the usual clinical conversion. The other psychotropics Peruvian pharmacies dispense on
special prescription (methylphenidate, phenobarbital …) have no common equivalent: they are
classified and counted, never converted.
"""

from __future__ import annotations

OPIOIDS = frozenset({
    "fentanyl", "remifentanil", "sufentanil", "alfentanil", "carfentanil", "morphine",
    "hydromorphone", "oxycodone", "oxymorphone", "hydrocodone", "codeine", "dihydrocodeine",
    "methadone", "buprenorphine", "tramadol", "tapentadol", "meperidine", "pethidine",
    "levorphanol", "nalbuphine", "butorphanol", "pentazocine", "tilidine",
})
# mg of oral diazepam equivalent to 1 mg of the substance (10 / Ashton's equivalent dose).
DIAZEPAM_EQUIVALENT = {
    "alprazolam": 20.0, "bromazepam": 2.0, "chlordiazepoxide": 0.4, "clobazam": 0.5,
    "clonazepam": 20.0, "clorazepate": 10 / 15, "diazepam": 1.0, "estazolam": 10 / 1.5,
    "flunitrazepam": 10.0, "flurazepam": 10 / 22.5, "lorazepam": 10.0, "lormetazepam": 10 / 1.5,
    "midazolam": 10 / 7.5, "nitrazepam": 1.0, "oxazepam": 0.5, "temazepam": 0.5,
    "triazolam": 40.0, "zaleplon": 0.5, "zolpidem": 0.5, "zopiclone": 10 / 15,
}
Z_DRUGS = frozenset({"zaleplon", "zolpidem", "zopiclone", "eszopiclone"})
STIMULANTS = frozenset({"methylphenidate", "modafinil", "amphetamine", "dexamphetamine",
                        "lisdexamfetamine", "atomoxetine"})
BARBITURATES = frozenset({"phenobarbital", "primidone", "thiopental", "pentobarbital"})
ANESTHETICS = frozenset({"ketamine", "esketamine"})


def substance_class(substance: str) -> str:
    """``opioid``, ``benzodiazepine`` (Z-drugs included), ``stimulant``, ``barbiturate``,
    ``anesthetic`` or ``other``; unknown names ending like an opioid or a benzodiazepine are
    classified by their stem (``…fentanil``, ``…zepam``, ``…zolam``)."""
    s = (substance or "").strip().lower()
    if s in OPIOIDS or s.endswith(("fentanil", "fentanyl", "morphone", "codone", "orphine")):
        return "opioid"
    if s in DIAZEPAM_EQUIVALENT or s in Z_DRUGS or s.endswith(("zepam", "zolam", "zepate")):
        return "benzodiazepine"
    if s in STIMULANTS:
        return "stimulant"
    if s in BARBITURATES or s.endswith("barbital"):
        return "barbiturate"
    if s in ANESTHETICS:
        return "anesthetic"
    return "other"


def is_opioid(substance: str) -> bool:
    return substance_class(substance) == "opioid"


def is_benzodiazepine(substance: str) -> bool:
    return substance_class(substance) == "benzodiazepine"


def diazepam_mg(substance: str, mg: float) -> float:
    """Diazepam milligram equivalents of ``mg`` of a benzodiazepine or Z-drug (0 otherwise;
    an unknown benzodiazepine counts mg for mg)."""
    s = (substance or "").strip().lower()
    if not is_benzodiazepine(s):
        return 0.0
    return mg * DIAZEPAM_EQUIVALENT.get(s, 1.0)
