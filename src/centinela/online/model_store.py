"""Ship, load and rebuild the classifier artefact (joblib + manifest).

Loading prefers a retrained model under ``<data_dir>/online-model/`` (written by
``centinela online retrain``), then the artefact shipped in the package. An artefact whose
hash, scikit-learn version, lexicon or format does not match is not unpickled: the model is
trained again from the shipped corpus (a few seconds) and a warning is logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import platform
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import joblib
import sklearn

from centinela.config import get_settings
from centinela.online import classifier
from centinela.online.corpus import read_jsonl
from centinela.online.lexicon import load_lexicon

log = logging.getLogger(__name__)
# 2: the model reads words spelled out letter by letter joined ("F.E.N.T.A" → "fenta"); a model
# trained on the earlier view is not loaded
FORMAT = 2
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "model_manifest.json"
FEEDBACK_WEIGHT = 3.0  # analyst-verified real posts count more than synthetic ones


def package_dir() -> Path:
    """Folder of the shipped lexicon, corpus and model."""
    return Path(str(resources.files("centinela.online") / "data"))


def user_dir() -> Path:
    """Folder of a locally retrained model."""
    return Path(get_settings().data_dir or ".") / "online-model"


def corpus_rows() -> list[dict]:
    """Return the shipped synthetic corpus."""
    return read_jsonl(package_dir() / "corpus.jsonl")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Loaded:
    model: classifier.Model
    source: str  # "user", "package" or "fallback-trained"
    manifest: dict


def train(rows: list[dict], feedback: list[dict] | None = None) -> tuple[classifier.Model, dict]:
    """Train on the corpus train split plus feedback; evaluate on the held-out test split."""
    feedback = feedback or []
    train_rows = [r for r in rows if r.get("split", "train") == "train"]
    valid_rows = [r for r in rows if r.get("split") == "valid"]
    test_rows = [r for r in rows if r.get("split") == "test"]
    texts = [r["text"] for r in train_rows] + [f["text"] for f in feedback]
    labels = [int(r["label"]) for r in train_rows] + [int(f["label"]) for f in feedback]
    groups = [r.get("template", r.get("id", "")) for r in train_rows]
    groups += [f"feedback#{f.get('lead_id') or i}" for i, f in enumerate(feedback)]
    weights = [1.0] * len(train_rows) + [FEEDBACK_WEIGHT] * len(feedback)
    valid = ([r["text"] for r in valid_rows], [int(r["label"]) for r in valid_rows]) if valid_rows else None
    model = classifier.fit(texts, labels, groups, weights, valid=valid)
    info: dict = {"n_train": len(train_rows), "n_valid": len(valid_rows),
                  "n_feedback": len(feedback), "n_test": len(test_rows)}
    if test_rows:
        ev = classifier.evaluate(model, test_rows)
        info["metrics"] = {"model": ev.model, "keyword_baseline": ev.keyword_baseline,
                           "test_set": "synthetic held-out templates and phrasings"}
    return model, info


def save(model: classifier.Model, info: dict, out_dir: Path, corpus_sha256: str,
         now: dt.datetime) -> dict:
    """Write the artefact and its manifest into ``out_dir``; return the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MODEL_FILE
    joblib.dump(model, path, compress=3)
    manifest = {
        "format": FORMAT, "created_at": now.isoformat(), "sklearn_version": sklearn.__version__,
        "python": platform.python_version(), "artefact_sha256": _sha256(path),
        "artefact_bytes": path.stat().st_size, "corpus_sha256": corpus_sha256,
        "lexicon_sha256": model.lexicon_sha256, "threshold": classifier.THRESHOLD,
        "hyperparameters": {"C": classifier.C_REG, "lexicon_scale": classifier.LEX_SCALE,
                            "char_ngrams": [2, 5], "word_ngrams": [1, 2]},
        **info,
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
    return manifest


def check(folder: Path) -> tuple[dict | None, str]:
    """Return (manifest, "") when the artefact in ``folder`` can be loaded, else (None, reason)."""
    mpath, apath = folder / MANIFEST_FILE, folder / MODEL_FILE
    if not mpath.exists() or not apath.exists():
        return None, "missing"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None, "manifest is not valid JSON"
    if manifest.get("format") != FORMAT:
        return None, f"format {manifest.get('format')} != {FORMAT}"
    if manifest.get("sklearn_version") != sklearn.__version__:
        return None, f"built with scikit-learn {manifest.get('sklearn_version')}, running {sklearn.__version__}"
    if manifest.get("lexicon_sha256") != load_lexicon().sha256:
        return None, "lexicon changed since the model was built"
    if manifest.get("artefact_sha256") != _sha256(apath):
        return None, "artefact hash does not match its manifest"
    return manifest, ""


def load(prefer_user: bool = True) -> Loaded:
    """Load the best available model, training from the shipped corpus when none fits."""
    folders = ([("user", user_dir())] if prefer_user else []) + [("package", package_dir())]
    for source, folder in folders:
        manifest, reason = check(folder)
        if manifest is not None:
            return Loaded(joblib.load(folder / MODEL_FILE), source, manifest)
        if reason != "missing" or source == "package":
            log.warning("online model in %s not used: %s", folder, reason)
    model, info = train(corpus_rows())
    return Loaded(model, "fallback-trained", {"format": FORMAT, **info})


@lru_cache(maxsize=1)
def get_model() -> Loaded:
    """Return the process-wide model (see ``load``)."""
    return load()


def reset() -> None:
    """Forget the cached model (after a retrain)."""
    get_model.cache_clear()
