"""Every message key the analyst app uses exists in Spanish and English."""

from __future__ import annotations

import re
from pathlib import Path

from centinela.accounts.models import ROLES
from centinela.accounts.policy import PAGES
from centinela.alerts.models import OUTCOMES, SEVERITIES, STATUSES, SUBJECT_KINDS
from centinela.ledger.records import EVENT_TYPES
from centinela.web.i18n import catalogs
from centinela.web.views.inbox import STATUS_FILTERS
from centinela.web.views.lookup import REASONS

WEB = Path(__file__).resolve().parents[1] / "src" / "centinela" / "web"
OTHER_AREAS = ("ews", "online", "public", "intake")


def test_all_keys_exist_in_both_languages():
    keys = set()
    for path in WEB.joinpath("templates").rglob("*.html"):
        if path.parent.name in OTHER_AREAS:
            continue
        keys |= set(re.findall(r"t\('([a-z_]+\.[a-z_0-9.]*[a-z0-9])'", path.read_text()))
    for path in [*WEB.joinpath("views").glob("*.py"), *WEB.joinpath("pages").glob("*.py")]:
        keys |= set(re.findall(r'"((?:profile|peers|chart|lookup|imports|login|access|map)'
                               r'\.[a-z_0-9]+)"', path.read_text()))
    keys = {k for k in keys if not k.endswith(("_", "."))}  # prefixes of dynamic keys
    keys -= {"login.html", "lookup.html", "map.html", "access.html", "access.request"}
    keys |= {p.label for p in PAGES} | {f"role.{r}" for r in ROLES}
    keys |= {f"severity.{s}" for s in SEVERITIES} | {f"status.{s}" for s in STATUS_FILTERS}
    keys |= {f"status.{s}" for s in STATUSES} | {f"outcome.{o}" for o in OUTCOMES}
    keys |= {f"kind.{k}" for k in SUBJECT_KINDS} | {f"event.{e}" for e in EVENT_TYPES}
    keys |= {f"lookup.reason_{r}" for r in REASONS}
    keys |= {f"access.status_{s}" for s in ("pending", "approved", "denied", "revoked")}
    keys |= {f"case.{a}" for a in ("triage", "schedule_audit", "close", "reopen", "note")}
    cats = catalogs()
    missing = sorted(k for k in keys for lang in ("es", "en") if k not in cats[lang])
    assert not missing, missing


def test_every_metric_and_criterion_a_detector_writes_has_a_spanish_name():
    """Evidence labels read "Observado (<metric>)": a metric, test or criterion written by a
    detector without a ``code.`` entry shows English on the Spanish page."""
    import re
    from pathlib import Path

    from centinela.web.i18n import catalogs

    src = Path(__file__).parents[1] / "src" / "centinela" / "detect"
    text = "\n".join(p.read_text(encoding="utf-8") for p in src.rglob("*.py"))
    written = set(re.findall(r'"(?:metric|test)": "([^"]+)"', text))
    for pieces in re.findall(r'metric, obs, exp, peer_vals, z = \(((?:"[^"]*"\s*)+),', text):
        written.add("".join(re.findall(r'"([^"]*)"', pieces)))
    written |= set(re.findall(r'found\.append\(\("([a-z_]+)"', text))
    written |= set(re.findall(r'"path": "([a-z_]+)"', text))
    assert len(written) > 15
    es = catalogs()["es"]
    assert sorted(w for w in written if "code." + w not in es) == []
