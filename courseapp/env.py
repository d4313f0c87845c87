"""Tiny helpers that read settings from the environment.

Kept apart from settings.py so the failure messages can be tested without
configuring Django.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"


def envbool(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_key(debug: bool) -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if debug:
        return DEV_SECRET_KEY
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off the site refuses to start without one: "
        "set SECRET_KEY to a long random string (or DEBUG=1 for local development)."
    )


# SQLite under concurrent writers (threaded runserver, several gunicorn workers):
# take the write lock at BEGIN and wait for it, instead of failing with
# "database is locked" when a reading transaction later tries to write.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def database(url: str | None, base_dir: Path) -> dict[str, Any]:
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": base_dir / "db.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
        }
    try:
        # Health checks: a connection kept across a database restart is tested before use, so the
        # first request after the restart does not fail.
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad input
        raise ImproperlyConfigured(
            f"DATABASE_URL is malformed ({exc}); expected e.g. "
            "postgres://user@127.0.0.1:5432/dbname or sqlite:///path/db.sqlite3"
        ) from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {url.split(':', 1)[0]!r}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    elif not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL names no database, e.g. postgres://user@host:5432/dbname"
        )
    return dict(config)
