"""Web application and JSON API (FastAPI, server-rendered Jinja2 pages with htmx)."""
