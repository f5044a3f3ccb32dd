"""Typed settings that work with no configuration.

Every setting is read from the environment with the ``CENTINELA_`` prefix. With nothing set,
Centinela uses a SQLite file in the working directory and a development pseudonymization key;
``CENTINELA_ENVIRONMENT=production`` refuses the development secrets.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "centinela-development-secret-do-not-use-in-production"
TEST_PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"  # tests/conftest.py
# Pseudonym keys published in this repository: with one of them a PSN reverses to its DNI by
# trying the 10^8 numbers, so they are refused everywhere except the test suite.
KNOWN_PSEUDONYM_KEYS = frozenset({DEV_SECRET, TEST_PSEUDONYM_KEY})
# SHA-256 of keys that leaked into the repository's history by mistake (a development
# ``pseudonym.key`` committed on 2026-12-05, removed the next day): refused like the two above,
# whether set in the environment or read from a key file. Digests, not the keys: a leaked key
# is never written out again.
LEAKED_KEY_DIGESTS = frozenset({
    "6d9fcdb358cf3e25422957bcab7f2aec237b639d613278176ffc7d7f7e07d7f7",
})


def published_key(value: str) -> bool:
    """True if ``value`` is a key anyone can read in this repository (or its history)."""
    import hashlib

    return value in KNOWN_PSEUDONYM_KEYS or (
        hashlib.sha256(value.encode()).hexdigest() in LEAKED_KEY_DIGESTS)


class PublicSettings(BaseSettings):
    """Settings of citizen reporting and the public assistant (``Settings.public``)."""

    model_config = SettingsConfigDict(env_prefix="CENTINELA_PUBLIC_", extra="ignore")

    reports_per_day: int = Field(
        5, description="Reports one client (daily-rotating keyed hash) may file per day."
    )
    asks_per_minute: int = Field(
        20, description="Assistant questions one client may ask per minute."
    )
    min_submit_seconds: float = Field(
        3.0, description="Least seconds between fetching a challenge and submitting a report."
    )
    challenge_max_age_s: int = Field(
        7200, description="Seconds a report challenge stays valid."
    )
    photo_max_bytes: int = Field(5_000_000, description="Largest photo upload accepted, in bytes.")
    photo_max_side: int = Field(1600, description="Longest side of a stored photo, in pixels.")
    text_max_chars: int = Field(4000, description="Longest free text of a report or an addition.")
    telegram_bot_token: str = Field(
        "", description="Telegram bot token used to reply (empty: replies are not sent)."
    )
    telegram_webhook_secret: str = Field(
        "", description="Secret path segment of the Telegram webhook (empty: webhook disabled)."
    )
    telegram_api_base: str = Field(
        "https://api.telegram.org", description="Base URL of the Telegram Bot API."
    )
    sms_webhook_secret: str = Field(
        "", description="Secret path segment of the SMS/messaging report webhook (empty: disabled)."
    )


class Settings(BaseSettings):
    """Centinela settings; each field is documented in ``docs/settings.md`` (checked by a test)."""

    model_config = SettingsConfigDict(env_prefix="CENTINELA_", extra="ignore")

    environment: str = Field("development", description="`development` or `production`.")
    database_url: str = Field(
        "sqlite:///centinela.db",
        description="SQLAlchemy URL of the database (SQLite or PostgreSQL).",
    )
    pseudonym_key: str = Field(
        "", description="Secret key of the HMAC that turns patient documents into PSN tokens "
        "(empty: a development install creates its own random key, `pseudonym.key`, in the "
        "data folder, else beside the SQLite database, and says so; published keys are refused "
        "outside tests). An import made with another key than the stored patients' is "
        "refused.",
    )
    secret_key: str = Field(
        DEV_SECRET, description="Secret that signs session cookies, CSRF tokens and webhooks."
    )
    exchange_key: str = Field(
        DEV_SECRET, description="Secret key of the HMAC that makes EWS exchange incident ids."
    )
    go_live: dt.date = Field(
        dt.date(2025, 1, 1), description="Date Centinela went live (start of certification grace)."
    )
    certification_grace_days: int = Field(
        365, description="Days after go-live before handling fentanyl requires a valid certificate."
    )
    certification_valid_days: int = Field(
        365, description="Days an opioid-competency certificate stays valid."
    )
    certification_reminder_days: int = Field(
        60, description="Days before a certificate expires when reminders are sent."
    )
    certification_remind_every_hours: float = Field(
        24.0, description="Hours between the certification reminder runs of the scheduler inside "
                          "`centinela serve` (idempotent: one reminder per professional and "
                          "certificate state, one list per regional authority and day; 0: off)."
    )
    quarterly_recipients: str = Field(
        "DIGEMID,PNP-DIRANDRO,FISCALIA-TID",
        description="Comma-separated authority ids that receive the quarterly report "
                    "(ids not in the authorities table are skipped and reported).",
    )
    import_batch_size: int = Field(5000, description="Rows per insert batch during imports.")
    transfer_receipt_days: int = Field(
        7, description="Days within which a transfer_out must be received by its counterparty."
    )
    mme_threshold: float = Field(90.0, description="Daily MME above which a patient is flagged.")
    pdmp_prescribers: int = Field(5, description="Distinct prescribers for a multiple-provider episode.")
    pdmp_pharmacies: int = Field(5, description="Distinct pharmacies for a multiple-provider episode.")
    pdmp_window_days: int = Field(90, description="Window of a multiple-provider episode, in days.")
    smtp_host: str = Field("", description="SMTP server for e-mail alerts (empty: e-mail disabled).")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_sender: str = Field("alertas@centinela.gob.pe", description="From address of alert e-mails.")
    http_timeout_s: float = Field(10.0, description="Timeout of every outbound HTTP request.")
    detect_interval_s: int = Field(
        900, description="Seconds between scheduled detection runs inside `centinela serve`."
    )
    online_retention_days: int = Field(
        365, description="Days online-market posts that joined no lead are kept."
    )
    data_dir: str = Field("", description="Folder for uploads and generated reports (empty: cwd).")
    max_body_bytes: int = Field(
        8_000_000, description="Largest request body accepted outside intake uploads, in bytes "
        "(refused with 413 before it is read).",
    )
    max_upload_bytes: int = Field(
        512_000_000, description="Largest upload or record batch accepted on intake paths, "
        "in bytes (refused with 413 before it is read).",
    )
    audit_key: str = Field(
        "", description="HMAC key that signs audit-chain checkpoints; keep it outside the database "
        "(empty: a random key created in the data folder, development only).",
    )
    audit_checkpoint_file: str = Field(
        "", description="File the signed audit checkpoints are appended to "
        "(empty: `audit-checkpoints.jsonl` in the data folder).",
    )
    audit_checkpoint_interval_s: int = Field(
        3600, description="Seconds between signed audit checkpoints inside `centinela serve`.",
    )
    audit_oversight_authority: str = Field(
        "ANPDP", description="Authority id that receives each audit checkpoint through the outbox "
        "(created with an outbox channel when missing; empty: file only).",
    )
    customs_detector: str = Field(
        "", description="X-ray detector of customs triage: empty = shipped synthetic baseline, "
        "a `.joblib` path, or `module:factory` (see docs/customs.md).")
    customs_inspection_rate: float = Field(
        0.02, description="Share of parcels customs can inspect; the review queue marks that top.")
    realtime_window_days: int = Field(
        7, description="Real-time rules judge only events that occurred within this many days of "
        "the import; older events (backfills) are left to batch detection."
    )
    detect_history_days: int = Field(
        400, description="Days of history before the lookback window that batch detection reads "
        "for baselines (each detector declares what it needs, capped here; see "
        "`centinela.detect.window`): up to ~120 days as raw movements, the rest as database "
        "aggregates per subject × month, so memory does not grow with the years stored. "
        "Negative: load the whole history as raw movements (the old way).")
    detect_full_every_hours: float = Field(
        24, description="An incremental detection run (`centinela detect --incremental`, the "
        "scheduled job) is a full run when the last full run is older than this.")
    detect_peer_rerun_share: float = Field(
        0.01, description="In an incremental run the peer detectors (peer z-scores, regional "
        "rates, BH over every series) run again only when the movements new since the last run "
        "are at least this share of the lookback window's; otherwise they keep their stored "
        "alerts until the next full run (`detect_full_every_hours`). 0: always rerun them.")
    alert_suppress_days: int = Field(
        180, description="Days a case closed as justified or false positive suppresses new "
        "findings of the same detector on the same subject (unless the magnitude grows)."
    )
    # Nested sections keep their own prefix (``CENTINELA_PUBLIC_*``) and are documented and
    # checked with the rest.
    public: PublicSettings = Field(
        default_factory=PublicSettings, description="Citizen reporting and the public assistant."
    )
    partition_ahead_months: int = Field(
        3, description="PostgreSQL: monthly movements partitions kept created ahead of the current "
        "month (`centinela db partitions`, and `serve` every 6 hours).")
    partition_retention_months: int = Field(
        0, description="PostgreSQL: detach movements partitions that ended more than this many "
        "months ago (0: keep every month online).")
    partition_archive: bool = Field(
        True, description="Retention moves detached partitions to the archive schema (false: "
        "drops them).")
    partition_archive_schema: str = Field(
        "", description="Schema that receives detached partitions (empty: `<schema>_archive`).")
    import_progress_every: int = Field(
        10, description="Batches between two progress updates of a running import (terminal "
        "bar and imports page).")

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if published_key(self.pseudonym_key) and self.environment != "test":
            raise ValueError("CENTINELA_PSEUDONYM_KEY is a publicly known key: pseudonyms made "
                             "with it can be reversed; unset it (a development install then "
                             "creates its own) or set a secret one")
        if not self.pseudonym_key and self.environment != "production":
            # Beside the SQLite database when no data folder is set: the key belongs to the
            # data it pseudonymized, not to the folder a command happens to run in.
            folder = self.data_dir or sqlite_folder(self.database_url)
            self.pseudonym_key = local_secret("pseudonym.key", folder)
            if published_key(self.pseudonym_key) and self.environment != "test":
                raise ValueError(
                    f"{Path(folder or '.') / 'pseudonym.key'} holds a key published in "
                    "Centinela's repository: pseudonyms made with it can be reversed to "
                    "document numbers. Delete that file and the development database made "
                    "with it (a new random key is then created), or set "
                    "CENTINELA_PSEUDONYM_KEY to a secret one")
        if self.environment == "production":
            if not self.audit_key or len(self.audit_key) < 32:
                raise ValueError("CENTINELA_AUDIT_KEY must be set to a strong secret in production")
            for name in ("pseudonym_key", "secret_key", "exchange_key"):
                if getattr(self, name) == DEV_SECRET or len(getattr(self, name)) < 32:
                    raise ValueError(
                        f"CENTINELA_{name.upper()} must be set to a strong secret in production"
                    )
            for env, value in secrets_of(self):
                if value and (published_key(value) or len(value) < 32):
                    raise ValueError(f"{env} must be empty (disabled) or a strong secret "
                                     "(32 characters or more) in production")
        return self

    @property
    def certification_deadline(self) -> dt.date:
        """Date from which handling fentanyl requires a valid certificate."""
        return self.go_live + dt.timedelta(days=self.certification_grace_days)


SECTION_SECRETS = ("telegram_bot_token", "telegram_webhook_secret", "sms_webhook_secret")


def sections(settings_cls: type[Settings] = Settings) -> list[tuple[str, type[BaseSettings]]]:
    """Return the nested sections of the settings: (field name, section class)."""
    out = []
    for name, field in settings_cls.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            out.append((name, kind))
    return out


def secrets_of(settings: Settings) -> list[tuple[str, str]]:
    """Return (environment variable, value) of each secret held in a nested section."""
    out = []
    for name, kind in sections(type(settings)):
        section = getattr(settings, name)
        prefix = kind.model_config.get("env_prefix", "")
        out += [(f"{prefix}{f.upper()}", getattr(section, f)) for f in kind.model_fields
                if f in SECTION_SECRETS]
    return out


def effective_lines(settings: Settings) -> list[str]:
    """Return ``VARIABLE=value`` for every setting, nested sections included, secrets hidden."""
    nested = dict(sections(type(settings)))
    out = []
    for name in type(settings).model_fields:
        if name in nested:
            section, prefix = getattr(settings, name), nested[name].model_config.get("env_prefix", "")
            out += [f"{prefix}{sub.upper()}="
                    f"{'***' if sub in SECTION_SECRETS else getattr(section, sub)}"
                    for sub in nested[name].model_fields]
            continue
        hidden = "secret" in name or "key" in name
        out.append(f"CENTINELA_{name.upper()}={'***' if hidden else getattr(settings, name)}")
    return out


def settings_markdown() -> str:
    """Render every setting, nested sections included, as Markdown (``docs/settings.md``)."""
    lines = [
        "# Settings",
        "",
        "Generated by `centinela settings --markdown` from `centinela.config.Settings`; a test",
        "checks this file is current. Every setting is an environment variable; none is needed",
        "to start (SQLite file in the working directory, development secrets).",
        "`CENTINELA_ENVIRONMENT=production` refuses the development secrets, and secrets of",
        "the nested sections that are set but weak.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    nested = dict(sections())
    for name, field in Settings.model_fields.items():
        if name in nested:
            continue
        default = field.default
        shown = "(development secret)" if "secret" in name or "key" in name else f"`{default}`"
        lines.append(f"| `CENTINELA_{name.upper()}` | {shown} | {field.description or ''} |")
    for name, kind in nested.items():
        prefix = kind.model_config.get("env_prefix", "")
        lines += ["", f"## `{name}`: {Settings.model_fields[name].description or ''}", "",
                  "| variable | default | meaning |", "|---|---|---|"]
        for sub, field in kind.model_fields.items():
            shown = "(empty: disabled)" if sub in SECTION_SECRETS else f"`{field.default}`"
            lines.append(f"| `{prefix}{sub.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def sqlite_folder(url: str) -> str:
    """The folder of a SQLite database file ("" for another database or an in-memory one)."""

    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return ""
    path = url[len(prefix):].split("?", 1)[0]
    return str(Path(path).parent) if path else ""


def local_secret(name: str, data_dir: str | None = None) -> str:
    """Return a random secret kept in ``<data_dir>/<name>``, creating it on first use.

    Only for development installs: each one gets its own key instead of a published one.
    """
    import secrets
    import sys
    from pathlib import Path

    folder = get_settings().data_dir if data_dir is None else data_dir
    path = Path(folder or ".") / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": two first runs cannot both write
            fh.write(value + "\n")
        path.chmod(0o600)
        setting = f"CENTINELA_{path.stem.upper()}_KEY"  # pseudonym.key → CENTINELA_PSEUDONYM_KEY
        print(f"centinela: created a random development key in {path} (keep it; in production "
              f"set {setting} instead)", file=sys.stderr)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
