"""One settings object: nested sections are documented and guarded with the rest."""

from __future__ import annotations

import pytest

from centinela.config import Settings, effective_lines, get_settings, sections

STRONG = "x" * 40


def production(**public) -> Settings:
    return Settings(environment="production", pseudonym_key=STRONG + "p", secret_key=STRONG + "s",
                    exchange_key=STRONG + "e", audit_key=STRONG + "a", **(
                        {"public": public} if public else {}))


def test_public_channels_are_a_section_of_the_one_settings(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_REPORTS_PER_DAY", "9")
    get_settings.cache_clear()
    assert ("public", type(get_settings().public)) in sections()
    assert get_settings().public.reports_per_day == 9


def test_production_refuses_a_weak_webhook_secret_but_not_an_empty_one():
    assert production().public.sms_webhook_secret == ""
    with pytest.raises(ValueError, match="CENTINELA_PUBLIC_SMS_WEBHOOK_SECRET"):
        production(sms_webhook_secret="short")
    assert production(telegram_webhook_secret="t" * 40).public.telegram_webhook_secret


def test_shown_settings_hide_the_section_secrets(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_TELEGRAM_BOT_TOKEN", "123:very-secret-token")
    get_settings.cache_clear()
    lines = effective_lines(get_settings())
    assert "CENTINELA_PUBLIC_TELEGRAM_BOT_TOKEN=***" in lines
    assert not any("very-secret-token" in line for line in lines)
    assert "CENTINELA_PUBLIC_REPORTS_PER_DAY=5" in lines
