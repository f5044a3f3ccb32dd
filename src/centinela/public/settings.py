"""Typed settings of the public channels (``CENTINELA_PUBLIC_*``), documented in docs/public.md."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PublicSettings(BaseSettings):
    """Settings of citizen reporting and the public assistant."""

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


@lru_cache
def get_public_settings() -> PublicSettings:
    """Return the cached public settings (tests call ``get_public_settings.cache_clear()``)."""
    return PublicSettings()
