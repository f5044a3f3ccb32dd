"""The audit log, the admin pages and the online lead page read in words, in Spanish and English.

Extends ``test_admin_codes_i18n`` (which names the codes themselves: actions, roles, topics…) to
what surrounds them: the keys and values of an audit entry's details, its subject, reason and
actor, API token scopes, a channel's disabled reason, and on the lead page the classifier's
reason, the probabilities, the post's language and a refused decision. The keys and the rule
shapes are collected from where the code writes them (read with ``ast``), so a new one without
words fails here; an unknown one still renders readably.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import pytest

from centinela.accounts.models import TOKEN_SCOPES
from centinela.public.reredact import FIELDS as REREDACT_FIELDS
from centinela.web.codes import actor, detail, detail_key, label, sentence, subject
from centinela.web.i18n import catalogs
from centinela.web.leadrule import rule_text
from centinela.web.views.inbox import FILTER_KEYS
from tests.test_admin_codes_i18n import SNAKE, SRC, TREES, _arg, _name, visible_text
from tests.web_support import login

HTML = {"accept": "text/html"}


# ---------------------------------------------------------------- the keys, from their sources


def _function_defs() -> dict[str, ast.FunctionDef]:
    return {n.name: n for _, tree in TREES for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def _dict_keys(node: ast.expr | None, scope: ast.AST, defs: dict[str, ast.FunctionDef]) -> set[str]:
    """The constant keys of a details mapping: a literal, or a name bound in ``scope`` to a
    literal (plus ``d["k"] = …`` and ``d.update(k=…)``) or to what a function returns."""
    if isinstance(node, ast.BoolOp):  # ``details or {}``
        return set().union(*(_dict_keys(v, scope, defs) for v in node.values))
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant)}
    if not isinstance(node, ast.Name):
        return set()
    found: set[str] = set()
    for n in ast.walk(scope):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id == node.id and n.value is not None:
                    if isinstance(n.value, ast.Call) and _name(n.value) in defs:
                        fn = defs[str(_name(n.value))]
                        for r in ast.walk(fn):
                            if isinstance(r, ast.Return):
                                found |= _dict_keys(r.value, fn, defs)
                    else:
                        found |= _dict_keys(n.value, scope, defs)
                if isinstance(t, ast.Subscript) and getattr(t.value, "id", None) == node.id \
                        and isinstance(t.slice, ast.Constant):
                    found.add(t.slice.value)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                and n.func.attr == "update" and getattr(n.func.value, "id", None) == node.id:
            found |= {kw.arg for kw in n.keywords if kw.arg}
    return found


def detail_keys_produced() -> set[str]:
    """Every key of the details the code writes to the audit log (``audit.record``, the EWS
    routes' ``_audit`` wrapper's keywords, the case files' ``_log``), and the keys of the
    mappings inside them (a re-redaction's counts per field, an inbox export's filters)."""
    defs, found = _function_defs(), set()
    for path, tree in TREES:
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                name, f = _name(call), call.func
                if name == "_audit":
                    found |= {kw.arg for kw in call.keywords if kw.arg}
                elif name == "record" and not (isinstance(f, ast.Attribute)
                                               and getattr(f.value, "id", None) != "audit"):
                    found |= _dict_keys(_arg(call, 5, "details"), fn, defs)
                elif name == "_log" and path.name == "casefiles.py":
                    found |= _dict_keys(_arg(call, 6, "details"), fn, defs)
    return found | set(REREDACT_FIELDS) | set(FILTER_KEYS)


def test_every_key_of_the_audit_details_is_named_in_both_languages():
    keys = detail_keys_produced()
    assert {"token_id", "request_id", "mode", "outcome", "attested", "on_behalf_of", "seizure_id",
            "accepted", "alert_ids", "sha256", "counts", "contact_removed", "date_from"} <= keys
    cats = catalogs()
    missing = sorted(f"{lang}:{k}" for k in keys for lang in ("es", "en")
                     if f"audit.key.{k}" not in cats[lang])
    assert not missing, f"name these keys in i18n/admin_codes.json: {missing}"
    # the raw key in either language, or the English key in words on the Spanish page
    raw = sorted({k for k in keys if SNAKE.fullmatch(k) and k in (
        cats["en"][f"audit.key.{k}"], cats["es"][f"audit.key.{k}"].replace(" ", "_"))})
    assert not raw, f"labels that are still the raw key: {raw}"


def test_every_token_scope_is_named_in_both_languages():
    for scope in TOKEN_SCOPES:
        for lang in ("es", "en"):
            assert catalogs()[lang][f"scope.{scope}"] not in ("", scope)
    assert catalogs()["es"]["scope.alerts:read"] == "lectura de alertas"


# ---------------------------------------------------------------- the words, one by one


@pytest.mark.parametrize("lang, words", [
    ("es", {"key": "token de API n.º", "dry": "simulación (sin guardar cambios)",
            "customs": "inspeccionado sin hallazgo", "case_outcome": "falso positivo",
            "yes": "Sí", "dept": "Lima (15)", "cli": "línea de comandos (cli)",
            "outbox": "cola de envíos", "alert": "alerta ALR-1", "lookup": "Nueva prescripción",
            "case": "caso 45-2026: investigación de receta", "reason": "archivo CSV",
            "kind": "Webhook", "scope": "lectura de alertas",
            "filters": "estado: todas, severidad: alta, departamento: Lima (15)"}),
    ("en", {"key": "API token no.", "dry": "dry run (nothing saved)",
            "customs": "inspected, negative", "case_outcome": "false positive",
            "yes": "Yes", "dept": "Lima (15)", "cli": "command line (cli)",
            "outbox": "delivery queue", "alert": "alert ALR-1", "lookup": "New prescription",
            "case": "case 45-2026: investigación de receta", "reason": "CSV file",
            "kind": "Webhook", "scope": "read alerts",
            "filters": "status: all, severity: high, department: Lima (15)"}),
])
def test_each_part_of_an_audit_entry_in_words(lang, words):
    assert detail_key("token_id", lang) == words["key"]
    assert detail("mode", "dry_run", lang) == words["dry"]
    assert detail("outcome", "inspected_negative", lang) == words["customs"]  # customs review
    assert detail("outcome", "false_positive", lang) == words["case_outcome"]  # case closed
    assert detail("attested", True, lang) == words["yes"]
    assert detail("departments", ["15"], lang) == words["dept"]
    assert detail("kind", "webhook", lang) == words["kind"]
    assert detail("scopes", ["alerts:read"], lang) == words["scope"]
    assert actor("cli", lang) == words["cli"] and actor("ana_perez", lang) == "ana_perez"
    assert subject("admin.deliveries_retry", "outbox", lang) == words["outbox"]
    assert subject("case.close", "alert:ALR-1", lang) == words["alert"]
    assert subject("pdmp.lookup", "PSN:ab12", lang) == "PSN:ab12"  # ids as stored
    assert sentence("new_prescription: control de dolor", lang) == f"{words['lookup']}: control de dolor"
    assert sentence("case 45-2026: investigación de receta", lang) == words["case"]
    assert sentence("csv", lang) == words["reason"]
    # a mapping inside the details, and an inbox export's filters, key by key
    counts = detail("counts", {"contact_removed": 2, "text": 0}, lang)
    assert "contact_removed" not in counts and "2" in counts
    assert detail("filters", "status=all&severity=high&department=15", lang) == words["filters"]


def test_free_text_stays_as_written_and_new_codes_read_in_words():
    # free text (a note, a file name, a username) is never rewritten ...
    assert sentence("acta_final.pdf", "es") == "acta_final.pdf"
    assert detail("file", "acta_final.pdf", "es") == "acta_final.pdf"
    assert subject("admin.user_create", "nueva_regional", "es") == "nueva_regional"
    # ... a code this version has no words for yet reads in words, and nothing breaks
    assert detail_key("brand_new_key", "es") == "brand new key"
    assert detail("mode", "partial_apply", "en") == "partial apply"
    assert label("online.context.", "forum_thread", "es") == "forum thread"
    assert detail("counts", {"nested": {"deep_key": [1, None, 2.5]}}, "es")
    assert detail("x", {}, "es") == "—" and detail("x", None, "es") == "—"
    assert sentence("", "es") == "" and sentence("2026-01-15", "es") == "15 ene 2026"


# ---------------------------------------------------------------- the pages


def _parcel(session, tracking_id: str, now: dt.datetime) -> None:
    from centinela.customs.models import Parcel

    session.add(Parcel(tracking_id=tracking_id, carrier="SERPOST", arrived_at=now,
                       origin_country="ES", sender_name="Tienda SL", sender_key="SND:a",
                       consignee_key="CNS:a", ubigeo="150101", declared_content="polo",
                       declared_value_usd=20.0, weight_kg=0.4, content_hash="x" * 32))
    session.flush()


def fill_audit_log(app, session, now: dt.datetime) -> None:
    """Write audit entries the way the system does: an API token, a police access request
    approved, a patient lookup, a channel disabled (through the pages), a customs review and a
    re-redaction dry run (through their services)."""
    from centinela.alerts.authorities import seed_authorities
    from centinela.alerts.models import Channel
    from centinela.customs.review import record_outcome
    from centinela.public.reredact import redact_stored

    seed_authorities(session)
    session.commit()
    admin, police, doctor = login(app, "admin"), login(app, "policia"), login(app, "medico")
    r = admin.post("/admin/tokens", data={"username": "analista", "name": "tablero",
                                          "scopes": ["alerts:read", "ingest"]})
    assert r.status_code == 200, r.text
    r = police.post("/api/v1/access-requests", json={
        "case_number": "45-2026", "reason": "investigación de receta falsificada",
        "document_number": "44556677"})
    assert r.status_code == 200, r.text
    r = admin.post(f"/admin/access/{r.json()['id']}", data={"decision": "approve", "days": "30",
                                                            "note": "orden fiscal"},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    r = doctor.post("/lookup", data={"document_type": "DNI", "document_number": "12345678",
                                     "reason": "new_prescription", "note": "control de dolor",
                                     "attest": "on"})
    assert r.status_code == 200, r.text
    channel = session.query(Channel).order_by(Channel.id).first()
    r = admin.post(f"/admin/channels/{channel.id}/toggle", follow_redirects=False)
    assert r.status_code == 303, r.text
    _parcel(session, "LP000000001PE", now)
    record_outcome(session, "LP000000001PE", "inspected_negative", "aduana", now)
    redact_stored(session, apply=False, actor="cli", now=now)
    session.commit()


# What the audit page must never show, and what it shows instead (Spanish, English).
RAW = ("token_id", "request_id", "dry_run", "inspected_negative", "new_prescription",
       "on_behalf_of", "professional_id", "channel_id", "reports_changed", "batches_written")
SAID = {"es": ("token de API n.º", "solicitud n.º", "simulación (sin guardar cambios)",
               "inspeccionado sin hallazgo", "Nueva prescripción: control de dolor",
               "caso 45-2026: orden fiscal", "alcances", "lectura de alertas",
               "reportes ciudadanos guardados vueltos a anonimizar con el anonimizador vigente",
               "línea de comandos (cli)", "declaró relación de tratamiento", "colegiatura"),
        "en": ("API token no.", "request no.", "dry run (nothing saved)", "inspected, negative",
               "New prescription: control de dolor", "case 45-2026: orden fiscal", "scopes",
               "read alerts", "stored citizen reports re-redacted with the current redactor",
               "command line (cli)", "treatment relationship attested", "college number")}
ENGLISH_ONLY = ("stored citizen reports", "re-redacted", "case 45-2026", "command line",
                "dry run", "printed report")


def test_audit_page_reads_in_words_for_a_regulator(app, world, session, now):
    fill_audit_log(app, session, now)
    admin = login(app, "admin")
    keys = {k for k in detail_keys_produced() if SNAKE.fullmatch(k)}
    for lang in ("es", "en"):
        r = admin.get(f"/admin/audit?lang={lang}", headers=HTML)
        assert r.status_code == 200
        text = visible_text(r.text)
        assert [w for w in RAW if w in text] == [], lang
        assert sorted(set(SNAKE.findall(text)) & keys) == [], lang
        assert [w for w in SAID[lang] if w not in text] == [], lang
        assert 'title="token_id"' in r.text and 'title="dry_run"' not in r.text  # key on hover
        if lang == "es":
            assert [w for w in ENGLISH_ONLY if w in text] == []
    # the JSON twin keeps what was stored, for programs
    body = admin.get("/api/v1/admin/audit").json()
    details = [e["details"] for e in body["entries"]]
    assert {"mode": "dry_run"}.items() <= next(d for d in details if "mode" in d).items()
    assert any("token_id" in d for d in details) and any(d.get("outcome") == "inspected_negative"
                                                         for d in details)


def test_admin_pages_name_scopes_and_a_disabled_channel(app, world, session, now):
    fill_audit_log(app, session, now)
    admin = login(app, "admin")
    for lang, scope, reason in (("es", "lectura de alertas", "desactivado por admin"),
                                ("en", "read alerts", "disabled by admin")):
        users = admin.get(f"/admin?lang={lang}", headers=HTML)
        text = visible_text(users.text)
        assert scope in text and "alerts:read" not in text and "ews:classify" not in text
        assert 'value="alerts:read"' in users.text  # the form still posts the code
        text = visible_text(admin.get(f"/admin/authorities?lang={lang}", headers=HTML).text)
        assert reason in text
    assert sentence("permanent: HTTP 410 Gone", "es") == \
        "fallo permanente del destino: HTTP 410 Gone"


# ---------------------------------------------------------------- the online lead page


def _sample(node: ast.expr | None) -> str | None:
    """A sentence of the shape an f-string builds: quoted words 'x', words x, thresholds 0.5."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(str(v.value))
                continue
            assert isinstance(v, ast.FormattedValue)
            e = v.value
            if isinstance(e, ast.IfExp):  # '≥' if offer else '<'
                out.append(_sample(e.body) or "x")
            elif isinstance(e, ast.Name) and "threshold" in e.id.lower():
                out.append("0.5")
            else:
                out.append("'x'" if v.conversion == ord("r") else "x")
        return "".join(out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_sample(node.left) or "") + (_sample(node.right) or "")
    return "" if isinstance(node, ast.Name) else None


def rules_produced() -> set[str]:
    """One sentence of each shape ``online.decide`` writes as a decision's rule: the rule of each
    ``Decision``, ``by_rule`` and ``by_model`` call, each ``rule = …``, and the reasons its
    helpers return as f-strings ("hearsay or worry (…)", "question about …")."""
    path = SRC / "online" / "decide.py"
    tree = next(t for p, t in TREES if p == path)
    by_model = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                    and n.name == "by_model")
    model = next(_sample(n.value) for n in ast.walk(by_model) if isinstance(n, ast.Assign))
    found = set()
    for n in ast.walk(tree):
        said = None
        if isinstance(n, ast.Call) and _name(n) == "Decision":
            said = _sample(_arg(n, 3, "rule"))
        elif isinstance(n, ast.Call) and _name(n) == "by_rule":
            said = _sample(_arg(n, 2, "rule"))
        elif isinstance(n, ast.Call) and _name(n) == "by_model":
            said = (model or "") + (_sample(_arg(n, 0, "note")) or "")
        elif isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "rule" for t in n.targets):
            said = _sample(n.value)
        elif isinstance(n, ast.Return) and isinstance(n.value, ast.JoinedStr):
            said = _sample(n.value)
        if said:
            found.add(said)
    return found


def test_every_rule_the_classifier_writes_reads_in_both_languages():
    rules = rules_produced()
    assert len(rules) > 20 and "model probability ≥ 0.5" in rules
    assert "explicit offer: x + 'x'" in rules and "question about x" in rules
    untranslated = sorted(r for r in rules if rule_text(r, "es") is None)
    assert not untranslated, f"add to web.leadrule.RULES and i18n/online.json: {untranslated}"
    for r in rules:
        es, en = rule_text(r, "es"), rule_text(r, "en")
        assert es != r and en, r
    assert rule_text("model probability ≥ 0.5", "es") == "probabilidad del modelo ≥ 0,50"
    assert rule_text("explicit offer: fentanilo + 'vendo'", "es") == \
        "oferta explícita: fentanilo + 'vendo'"  # the post's own words as written
    assert rule_text("explicit offer: tramadol + 'phone and price'", "es") == \
        "oferta explícita: tramadol + 'teléfono y precio'"
    assert rule_text("warning, question or worry (hearsay or worry ('dicen que')), no offer "
                     "language, contact, price or payment", "es").startswith(
        "advertencia, pregunta o preocupación (rumor o preocupación ('dicen que'))")
    assert rule_text("a rule written next year", "es") is None


@pytest.fixture
def lead_id(app, world):
    analyst = login(app, "analista")
    fixture = Path(__file__).parent / "fixtures" / "online" / "posts.csv"
    with fixture.open("rb") as fh:
        r = analyst.post("/api/online/ingest", files={"file": ("posts.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text
    leads = analyst.get("/api/online/leads").json()["leads"]
    return max(leads, key=lambda lead: lead["n_posts"])["lead_id"]


def test_lead_page_reads_in_the_page_language(app, lead_id):
    analyst = login(app, "analista")
    posts = analyst.get(f"/api/online/leads/{lead_id}").json()["posts"]
    rules = {p["explanation"]["rule"] for p in posts if p["explanation"].get("rule")}
    assert rules
    said = {lang: " ".join(visible_text(analyst.get(f"/online/leads/{lead_id}?lang={lang}",
                                                    headers=HTML).text).split())
            for lang in ("es", "en")}
    for rule in rules:
        assert rule_text(rule, "es") in said["es"] and rule not in said["es"], rule
        assert rule_text(rule, "en") in said["en"], rule
    assert "p máx." not in said["es"] and "p máx." not in said["en"] and "p=" not in said["es"]
    assert "probabilidad más alta: 1,00" in said["es"] and "highest probability: 1.00" in said["en"]
    assert " · español · " in said["es"] and " · Spanish · " in said["en"]
    assert "oferta explícita" in said["es"] and "explicit offer" not in said["es"]
    assert "T0" not in said["es"].split("Periodo")[1][:40]  # the period in words, not ISO


def test_lead_page_marks_a_rule_it_cannot_translate(app, lead_id, session):
    from centinela.online.models import OnlinePost

    post = session.query(OnlinePost).filter(OnlinePost.lead_id == lead_id).first()
    post.explanation = {**post.explanation, "rule": "a rule written next year",
                        "context": "forum_thread", "decided_by": "ensemble_vote"}
    session.commit()
    analyst = login(app, "analista")
    page = analyst.get(f"/online/leads/{lead_id}", headers=HTML).text
    assert '<small class="rule" lang="en">a rule written next year</small>' in page
    text = visible_text(page)
    assert "(en inglés, sin traducir)" in text
    assert "forum thread" in text and "ensemble vote" in text  # newer codes, in words
    assert "untranslated" not in visible_text(analyst.get(f"/online/leads/{lead_id}?lang=en",
                                                          headers=HTML).text)


@pytest.mark.parametrize("lang, said", [
    ("es", "Código de departamento desconocido: '99' (2 dígitos, INEI)."),
    ("en", "Unknown department code: '99' (2 digits, INEI)."),
])
def test_a_refused_lead_decision_is_explained_in_the_page_language(app, lead_id, lang, said):
    analyst = login(app, "analista")
    analyst.cookies.set("lang", lang)
    r = analyst.post(f"/online/leads/{lead_id}/decision",
                     data={"decision": "confirm", "note": "revisado", "department": "99"})
    assert r.status_code == 422
    text = visible_text(r.text)
    assert said in text and "unknown department code" not in text


def test_the_lead_api_keeps_the_classifier_words(app, lead_id):
    """The page translates; the JSON twin returns what the classifier wrote."""
    body = login(app, "analista").get(f"/api/online/leads/{lead_id}").json()
    assert all(isinstance(p["explanation"].get("rule", ""), str) for p in body["posts"])
    assert json.dumps(body).count("explicit offer") + json.dumps(body).count("model probability")
