"""Typed settings that work with no configuration.

Every setting is read from the environment with the ``CENTINELA_`` prefix. With nothing set,
Centinela uses a SQLite file in the working directory and a development pseudonymization key;
``CENTINELA_ENVIRONMENT=production`` refuses the development secrets.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "centinela-development-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Centinela settings; each field is documented in ``docs/settings.md`` (checked by a test)."""

    model_config = SettingsConfigDict(env_prefix="CENTINELA_", extra="ignore")

    environment: str = Field("development", description="`development` or `production`.")
    database_url: str = Field(
        "sqlite:///centinela.db",
        description="SQLAlchemy URL of the database (SQLite or PostgreSQL).",
    )
    pseudonym_key: str = Field(
        DEV_SECRET, description="Secret key of the HMAC that turns patient documents into PSN tokens."
    )
    secret_key: str = Field(
        DEV_SECRET, description="Secret that signs session cookies, CSRF tokens and webhooks."
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
    realtime_window_days: int = Field(
        7, description="Real-time rules judge only events that occurred within this many days of "
        "the import; older events (backfills) are left to batch detection."
    )
    alert_suppress_days: int = Field(
        180, description="Days a case closed as justified or false positive suppresses new "
        "findings of the same detector on the same subject (unless the magnitude grows)."
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            for name in ("pseudonym_key", "secret_key"):
                if getattr(self, name) == DEV_SECRET or len(getattr(self, name)) < 32:
                    raise ValueError(
                        f"CENTINELA_{name.upper()} must be set to a strong secret in production"
                    )
        return self

    @property
    def certification_deadline(self) -> dt.date:
        """Date from which handling fentanyl requires a valid certificate."""
        return self.go_live + dt.timedelta(days=self.certification_grace_days)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
