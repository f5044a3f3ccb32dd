"""Authorities, the audit log and online leads name stored codes in the reader's language.

Every code these pages can show is collected from where the code base produces it, not from a
list kept by hand: authority kinds and alert topics from ``alerts.authorities``, every detector
and every other producer of routed topics (read with ``ast``); audit actions from every
``audit.record`` call (read with ``ast``, f-strings expanded from the vocabularies they draw
on); roles and channel kinds from their registries; the online classifier's lexicon categories.
Each needs a label in Spanish and English, and the rendered pages never show the raw code.
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from centinela import audit
from centinela.accounts.models import ACCESS_STATUSES, ROLES
from centinela.alerts.authorities import (
    AUTHORITY_KINDS,
    CRIMINAL_TOPICS,
    TOPICS,
    default_authorities,
    seed_authorities,
)
from centinela.alerts.cases import ACTIONS as CASE_ACTIONS
from centinela.alerts.channels import CHANNELS
from centinela.alerts.models import Authority
from centinela.online.leads import DECISIONS
from centinela.online.lexicon import CATEGORIES, load_lexicon
from centinela.web.i18n import catalogs
from centinela.web.routes.admin import CHANNEL_KINDS
from tests.web_support import login

SRC = Path(__file__).resolve().parents[1] / "src" / "centinela"
CATALOG = SRC / "web" / "i18n" / "admin_codes.json"
HTML = {"accept": "text/html"}
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def _trees() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py"))]


TREES = _trees()


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)


def _calls(*names: str):
    """(file, call) for every call of a function or method named one of ``names``."""
    for path, tree in TREES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node) in names:
                yield path, node


def _arg(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _strings(node: ast.expr | None) -> set[str]:
    """The string constants of a literal list or tuple (other items are not codes we can read)."""
    if isinstance(node, ast.List | ast.Tuple):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


# ---------------------------------------------------------------- the codes, from their sources


def topics_produced() -> set[str]:
    """Every topic a detector, an alert draft or a routed payload is written with."""
    from centinela.detect.registry import all_detectors

    found = {t for d in all_detectors() for t in d.topics}
    for _, tree in TREES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign):  # class attribute ``topics = (...)``
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "topics" for t in targets):
                    found |= _strings(node.value)
            if isinstance(node, ast.keyword) and node.arg == "topics":
                found |= _strings(node.value)
    for _, call in _calls("enqueue_payload"):
        found |= _strings(_arg(call, 3, "topics"))
    for _, call in _calls("authorities_for"):
        found |= _strings(_arg(call, 1, "topics"))
    found |= set(CRIMINAL_TOPICS) | {t for s in default_authorities() for t in s.topics}
    return found


def authority_kinds_produced() -> set[str]:
    """Every kind an authority is stored with: the seed registry and every ``Authority(...)``."""
    found = {s.kind for s in default_authorities()}
    for _, call in _calls("Authority", "AuthoritySeed"):
        # AuthoritySeed(authority_id, name, kind, ...); Authority(...) takes keywords only
        node = _arg(call, 2 if _name(call) == "AuthoritySeed" else len(call.args), "kind")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def _casefile_kinds() -> set[str]:
    """The kinds ``alerts.casefiles._log`` is called with (audited as ``casefile.<kind>``)."""
    return {n.value for path, call in _calls("_log") if path.name == "casefiles.py"
            and path.parent.name == "alerts"
            and isinstance(n := _arg(call, 3, "kind"), ast.Constant) and isinstance(n.value, str)}


# An f-string action: its constant prefix → the values its placeholder takes.
DYNAMIC_ACTIONS = {
    "access.": [s for s in ACCESS_STATUSES if s != "pending"],  # admin decisions on requests
    "case.": list(CASE_ACTIONS),
    "casefile.": sorted(_casefile_kinds()),
    "online.lead.": list(DECISIONS),
}
# Functions that pass their own ``action`` argument to ``audit.record`` (their callers are read).
AUDIT_WRAPPERS = {"_audit"}


def _module_strings(path: Path) -> dict[str, str]:
    """A module's top-level string constants (``ACTION = "citizen_report.redact_stored"``)."""
    tree = dict(TREES)[path]
    return {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets if isinstance(t, ast.Name)}


def _wrapper_bodies() -> set[tuple[Path, int]]:
    """(file, line) of every call inside the body of an audit wrapper."""
    return {(path, node.lineno) for path, tree in TREES for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name in AUDIT_WRAPPERS
            for node in ast.walk(fn) if isinstance(node, ast.Call)}


def audit_actions_produced() -> set[str]:
    """Every action written to the audit log by ``audit.record`` (or a wrapper of it)."""
    found: set[str] = set()
    unread = []
    wrapped = _wrapper_bodies()
    for path, call in _calls("record", *AUDIT_WRAPPERS):
        f = call.func
        if isinstance(f, ast.Attribute) and not (isinstance(f.value, ast.Name)
                                                 and f.value.id == "audit"):
            continue  # another object's ``record`` method
        node = _arg(call, 2, "action")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
        elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
            prefix = str(node.values[0].value)
            if prefix in DYNAMIC_ACTIONS and len(node.values) == 2:
                found |= {prefix + v for v in DYNAMIC_ACTIONS[prefix]}
            else:
                unread.append(f"{path.name}:{call.lineno}")
        elif isinstance(node, ast.Name) and node.id in _module_strings(path):
            found.add(_module_strings(path)[node.id])
        elif isinstance(node, ast.Name) and (path, call.lineno) in wrapped:
            continue  # a wrapper passing its own argument on: its callers are read
        else:
            unread.append(f"{path.name}:{call.lineno}")
    assert not unread, f"audit actions this test cannot read (teach it): {unread}"
    return found


# ---------------------------------------------------------------- (a) every code has a label


def test_the_catalogue_has_the_same_keys_in_both_languages():
    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    assert set(data) == {"es", "en"} and set(data["es"]) == set(data["en"])
    assert all(v.strip() for lang in ("es", "en") for v in data[lang].values())


def test_every_topic_and_authority_kind_the_code_writes_is_offered_and_named():
    topics, kinds = topics_produced(), authority_kinds_produced()
    assert {"theft_loss", "doctor_shopping", "compliance", "audit", "ews"} <= topics
    assert {"regional_health", "diris", "oversight", "professionals"} <= kinds
    assert topics <= set(TOPICS), f"add to alerts.authorities.TOPICS: {sorted(topics - set(TOPICS))}"
    assert kinds <= set(AUTHORITY_KINDS), sorted(kinds - set(AUTHORITY_KINDS))
    _assert_named([f"code.{c}" for c in (*TOPICS, *AUTHORITY_KINDS)])


def test_every_audit_action_and_role_is_named():
    actions = audit_actions_produced()
    assert len(actions) > 50 and {"admin.user_create", "case.schedule_audit", "casefile.attach",
                                  "online.lead.dismiss", "ews.bulletin.issue"} <= actions
    _assert_named([f"code.{a}" for a in actions] + [f"role.{r}" for r in ROLES])


def test_every_channel_kind_and_lexicon_category_is_named():
    assert set(load_lexicon().data["categories"]) <= set(CATEGORIES)  # what a post can hit
    _assert_named([f"channel.{k}" for k in {*CHANNELS, *CHANNEL_KINDS}]
                  + [f"code.{c}" for c in CATEGORIES])


def _assert_named(keys: list[str]) -> None:
    cats = catalogs()
    missing = sorted(f"{lang}:{k}" for k in keys for lang in ("es", "en") if k not in cats[lang])
    assert not missing, missing
    raw = sorted(k for k in keys for lang in ("es", "en")
                 if SNAKE.fullmatch(k.split(".")[-1]) and cats[lang][k] == k.split(".")[-1])
    assert not raw, f"labels that are still the raw code: {raw}"


# ---------------------------------------------------------------- (b) the pages show names


class _Visible(HTMLParser):
    """The text a reader sees (no attributes, scripts or styles; option texts included)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Visible()
    p.feed(html)
    return " ".join(p.parts)


def _raw_codes(text: str, codes: set[str]) -> list[str]:
    """The codes of ``codes`` that appear in ``text`` as such (snake_case or dotted)."""
    found = set(SNAKE.findall(text)) & codes
    found |= {c for c in codes if "." in c and re.search(rf"(?<![\w.]){re.escape(c)}(?![\w])", text)}
    return sorted(found)


@pytest.fixture
def admin(app, world, session):
    seed_authorities(session)
    session.commit()
    return login(app, "admin")


def test_authorities_page_names_kinds_topics_and_channels(admin, session):
    for i, kind in enumerate(AUTHORITY_KINDS):  # the form posts codes: a select, a box per topic
        r = admin.post("/admin/authorities", data={
            "authority_id": f"T-{i}" if kind != "police" else "T-police",
            "name": f"Autoridad de prueba {i}", "kind": kind,
            "departments": "15", "min_severity": "medium", "active": "on",
            "topics": list(TOPICS) if kind == "police" else ["theft_loss", "online"]},
            follow_redirects=False)
        assert r.status_code == 303, r.text
    saved = session.get(Authority, "T-police")
    session.refresh(saved)
    assert saved.kind == "police" and saved.topics == list(TOPICS)
    r = admin.post("/admin/authorities", data={"authority_id": "T-legacy", "name": "Script",
                                               "min_severity": "low",
                                               "topics": "custody; waste"},
                   follow_redirects=False)  # one comma-separated field still works
    assert r.status_code == 303
    legacy = session.get(Authority, "T-legacy")
    session.refresh(legacy)
    assert legacy.topics == ["custody", "waste"] and legacy.kind == "regulator"
    for kind in CHANNEL_KINDS:
        assert admin.post("/admin/channels", data={"authority_id": "T-police", "kind": kind,
                                                   "target": "x@example.org"},
                          follow_redirects=False).status_code == 303
    codes = set(TOPICS) | set(AUTHORITY_KINDS) | topics_produced()
    pages = {}
    for lang in ("es", "en"):
        r = admin.get(f"/admin/authorities?lang={lang}", headers=HTML)
        assert r.status_code == 200
        pages[lang] = r.text
        text = visible_text(r.text)
        assert _raw_codes(text, codes) == [], lang
        for k in CHANNEL_KINDS:
            assert catalogs()[lang][f"channel.{k}"] in text
        for c in (*TOPICS, *AUTHORITY_KINDS):
            assert catalogs()[lang][f"code.{c}"] in text, (lang, c)
        # the form: a select of kinds and a box per topic, posting the codes
        for k in AUTHORITY_KINDS:
            assert f'<option value="{k}" title="{k}"' in r.text
        for tp in TOPICS:
            assert f'<input type="checkbox" name="topics" value="{tp}">' in r.text
        assert '<input name="kind"' not in r.text and '<input name="topics"' not in r.text
        assert 'title="regional_health"' in r.text and 'title="theft_loss"' in r.text
    es, en = visible_text(pages["es"]), visible_text(pages["en"])
    assert "robo o pérdida" in es and "autoridad regional de salud" in es
    assert "theft or loss" in en and "regional health authority" in en


def test_audit_page_names_actions_and_roles(admin, session, now):
    # a real entry from a real admin action (its details carry the new user's role) ...
    r = admin.post("/admin/users", data={"username": "nueva_regional", "password": "Sierra-Nevada-Pampa",
                                         "role": "regional_analyst", "departments": "20"},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    # ... and one entry for every other action the code base writes, each with a role
    actions = sorted(audit_actions_produced())
    for i, action in enumerate(actions):
        audit.record(session, "admin", action, f"sujeto-{i}",
                     details={"role": ROLES[i % len(ROLES)], "file": "acta_final.pdf"}, now=now)
    audit.record(session, "lima", "case.close", "alert:X", now=now,  # as alerts.cases writes it
                 details={"from": "audit_scheduled", "to": "closed", "outcome": "false_positive"})
    session.commit()
    assert len(actions) + 2 < 100  # one page of the log shows them all
    codes = set(actions) | set(ROLES)
    for lang in ("es", "en"):
        r = admin.get(f"/admin/audit?lang={lang}", headers=HTML)
        assert r.status_code == 200
        text = visible_text(r.text)
        assert _raw_codes(text, codes) == [], lang
        labels = catalogs()[lang]
        for action in actions:
            assert labels[f"code.{action}"] in text, (lang, action)
            assert f'title="{action}"' in r.text  # the raw code stays one hover away
        for role in ROLES:
            assert labels[f"role.{role}"] in text, (lang, role)
        assert "acta_final.pdf" in text  # free text in the details is shown as stored
        assert "audit_scheduled" not in text and "false_positive" not in text
        assert labels["status.audit_scheduled"] in text and labels["outcome.false_positive"] in text
    # the action filter offers every logged action by name and still filters by its code
    r = admin.get("/admin/audit?action=admin.user_create&lang=en", headers=HTML)
    assert '<option value="admin.user_create" title="admin.user_create" selected>' in r.text
    assert r.context["ctx"].total == 2
    assert "Regional analyst" in visible_text(r.text)
    assert "Analista regional" in visible_text(admin.get("/admin/audit?action=admin.user_create",
                                                         headers=HTML).text)


def test_online_lead_pages_name_lexicon_categories(app, world):
    analyst = login(app, "analista")
    fixture = Path(__file__).parent / "fixtures" / "online" / "posts.csv"
    with fixture.open("rb") as fh:
        r = analyst.post("/api/online/ingest", files={"file": ("posts.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text
    leads = [lead["lead_id"] for lead in analyst.get("/api/online/leads").json()["leads"]]
    assert leads
    seen: set[str] = set()
    codes = set(CATEGORIES)
    for lead_id in leads:
        detail = analyst.get(f"/api/online/leads/{lead_id}").json()
        cats = {c for p in detail["posts"] for c in p["explanation"].get("lexicon", {})}
        seen |= cats
        for lang in ("es", "en"):
            r = analyst.get(f"/online/leads/{lead_id}?lang={lang}", headers=HTML)
            assert r.status_code == 200
            text = visible_text(r.text)
            assert _raw_codes(text, codes) == [], (lead_id, lang)
            for c in cats:
                assert catalogs()[lang][f"code.{c}"] in text, (lead_id, lang, c)
                assert f'title="{c}"' in r.text
    assert {"code_emoji", "other_opioid"} <= seen  # the codes the crawl found are exercised
    for lang in ("es", "en"):
        text = visible_text(analyst.get(f"/online/leads?lang={lang}", headers=HTML).text)
        assert _raw_codes(text, codes) == []


def test_authorities_api_still_returns_the_codes(admin):
    """The pages show names; the JSON twin keeps the stored codes for programs."""
    body = admin.get("/api/v1/admin/authorities").json()
    kinds = {a["kind"] for a in body["authorities"]}
    assert "regional_health" in kinds
    police = next(a for a in body["authorities"] if a["authority_id"] == "PNP-DIRANDRO")
    assert police["topics"] == CRIMINAL_TOPICS
