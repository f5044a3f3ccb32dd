"""The competent authorities, their jurisdictions and topics (seed data; editable in the DB).

Every authority starts with an ``outbox`` channel (stored only, read through the web app and
the API); e-mail and webhook channels are added per authority with ``centinela authorities``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Authority, Channel
from centinela.reference.ubigeo import departments

# Topic vocabulary: every topic an alert or a routed payload carries (detectors' ``topics``, the
# EWS, citizen reports, online leads, audit checkpoints...) and so every topic an authority can
# subscribe to (Authority.topics; empty = all). The EWS also tags its alerts with the substance
# class of the signal; those are not offered as subscriptions here. Labels: ``code.<topic>`` in
# the web catalogues (web/i18n/admin_codes.json).
TOPICS = (
    "custody", "counterfeit", "unauthorized_holder", "theft_loss", "seizure_trace", "online",
    "waste", "diversion", "prescribing", "forgery", "dispensing", "doctor_shopping",
    "patient_safety", "suspicious_order", "inventory", "regional_surge", "compliance",
    "early_warning", "ews", "identification", "unconfirmed", "overdose", "seizure", "citizen",
    "pharmacy", "criminal", "audit",
)
# Kinds of authority: the seed registry's, the audit-oversight recipient (``auditsign``) and the
# professionals' certification outbox (``certification.progress``).
AUTHORITY_KINDS = ("regulator", "regional_health", "diris", "police", "prosecutor", "oversight",
                   "professionals")
CRIMINAL_TOPICS = ["theft_loss", "unauthorized_holder", "seizure_trace", "online", "counterfeit"]

# DIRIS of Lima Metropolitana (province 1501) by district (MINSA, R.M. 467-2017/MINSA).
LIMA_DIRIS = {
    "DIRIS-LC": ("Dirección de Redes Integradas de Salud Lima Centro",
                 ["150101", "150105", "150113", "150115", "150116", "150120", "150121", "150122",
                  "150128", "150130", "150131", "150134", "150136", "150141"]),
    "DIRIS-LN": ("Dirección de Redes Integradas de Salud Lima Norte",
                 ["150102", "150106", "150110", "150112", "150117", "150125", "150135", "150139"]),
    "DIRIS-LS": ("Dirección de Redes Integradas de Salud Lima Sur",
                 ["150104", "150108", "150119", "150123", "150124", "150126", "150127", "150129",
                  "150133", "150138", "150140", "150142", "150143"]),
    "DIRIS-LE": ("Dirección de Redes Integradas de Salud Lima Este",
                 ["150103", "150107", "150109", "150111", "150114", "150118", "150132", "150137"]),
}
# Departments whose regional health authority is a Gerencia (GERESA) rather than a Dirección.
GERESA = {"04", "13", "14"}


@dataclass(frozen=True)
class AuthoritySeed:
    authority_id: str
    name: str
    kind: str
    departments: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    exclude_areas: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    min_severity: str = "low"


def default_authorities() -> list[AuthoritySeed]:
    """Return the seed registry: DIGEMID, each region's DIRESA/GERESA, Lima's DIRIS, police, fiscalía."""
    seeds = [
        AuthoritySeed("DIGEMID", "Dirección General de Medicamentos, Insumos y Drogas (MINSA)",
                      "regulator"),
        AuthoritySeed("PNP-DIRANDRO", "Dirección Antidrogas de la Policía Nacional del Perú",
                      "police", topics=list(CRIMINAL_TOPICS), min_severity="medium"),
        AuthoritySeed("PNP-DIVINDAT", "División de Investigación de Delitos de Alta Tecnología (PNP)",
                      "police", topics=["online"], min_severity="medium"),
        AuthoritySeed("FISCALIA-TID", "Fiscalías Especializadas en Delitos de Tráfico Ilícito de Drogas",
                      "prosecutor",
                      topics=["seizure_trace", "unauthorized_holder", "counterfeit", "theft_loss"],
                      min_severity="high"),
    ]
    for code, name in sorted(departments().items()):
        prefix = "GERESA" if code in GERESA else "DIRESA"
        label = "Gerencia" if code in GERESA else "Dirección"
        if code == "15":
            seeds.append(AuthoritySeed(f"{prefix}-15", f"{label} Regional de Salud Lima (provincias)",
                                       "regional_health", departments=["15"], exclude_areas=["1501"]))
            continue
        seeds.append(AuthoritySeed(f"{prefix}-{code}", f"{label} Regional de Salud {name}",
                                   "regional_health", departments=[code]))
    for aid, (name, districts) in LIMA_DIRIS.items():
        seeds.append(AuthoritySeed(aid, name, "diris", areas=list(districts)))
    return seeds


def seed_authorities(session: Session) -> int:
    """Insert the seed authorities that are missing, each with an outbox channel; return how many."""
    have = set(session.scalars(select(Authority.authority_id)))
    added = 0
    for s in default_authorities():
        if s.authority_id in have:
            continue
        session.add(Authority(
            authority_id=s.authority_id, name=s.name, kind=s.kind, departments=s.departments,
            areas=s.areas, exclude_areas=s.exclude_areas, topics=s.topics,
            min_severity=s.min_severity, active=True,
        ))
        session.flush()
        session.add(Channel(authority_id=s.authority_id, kind="outbox", target="", enabled=True))
        added += 1
    session.flush()
    session.info.pop("centinela_routing", None)
    return added


def add_channel(session: Session, authority_id: str, kind: str, target: str,
                secret: str | None = None) -> Channel:
    """Add a delivery channel (``email``, ``webhook``, ``outbox``) to an authority."""
    from centinela.alerts.channels import CHANNELS

    if kind not in CHANNELS:
        raise ValueError(f"unknown channel kind {kind!r}; known: {', '.join(sorted(CHANNELS))}")
    if session.get(Authority, authority_id) is None:
        raise ValueError(f"unknown authority {authority_id!r}")
    ch = Channel(authority_id=authority_id, kind=kind, target=target, secret=secret, enabled=True)
    session.add(ch)
    session.flush()
    session.info.pop("centinela_routing", None)
    return ch


def set_channel_enabled(session: Session, channel_id: int, enabled: bool, reason: str | None = None) -> Channel:
    """Enable or disable a channel (pending deliveries wait while it is disabled)."""
    ch = session.get(Channel, channel_id)
    if ch is None:
        raise ValueError(f"unknown channel {channel_id}")
    ch.enabled = enabled
    ch.disabled_reason = None if enabled else (reason or "disabled by an operator")
    session.flush()
    session.info.pop("centinela_routing", None)
    return ch
