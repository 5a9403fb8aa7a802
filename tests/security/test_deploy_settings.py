"""Production settings (DEBUG=0): `manage.py check --deploy` is clean, and demo defaults refuse to start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def production_env(tmp_path, **overrides) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_", "AXES_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters
        ALLOWED_HOSTS="payments.example.jp",
        # The database and Redis of the test run (checks make no connection); the demo SQLite otherwise.
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'check.sqlite3'}",
        VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="payments_admin.settings",
    )
    env.update(overrides)
    return env


def manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=settings.BASE_DIR)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_production_settings_are_the_hardened_ones(tmp_path):
    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
            "s.X_FRAME_OPTIONS, s.SESSION_COOKIE_AGE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_PROXY_SSL_HEADER)")
    result = manage(production_env(tmp_path, TRUST_X_FORWARDED_PROTO="1", SESSION_COOKIE_AGE="3600"), "shell",
                    "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-11:] == [
        "True", "True", "True", "31536000", "True", "True", "DENY", "3600", "True", "('HTTP_X_FORWARDED_PROTO',",
        "'https')"]


@pytest.mark.parametrize("secret", [None, "demo-only-insecure-secret-key-change-me", ""])
def test_debug_0_with_the_demo_secret_key_refuses_to_start(tmp_path, secret):
    env = production_env(tmp_path)
    if secret is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = secret
    result = manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


def test_debug_0_without_allowed_hosts_refuses_to_start(tmp_path):
    env = production_env(tmp_path)
    del env["ALLOWED_HOSTS"]
    result = manage(env, "check")
    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr


def test_the_demo_and_the_tests_keep_plain_http_settings():
    # Loaded with DEBUG=1 (pytest-django then turns DEBUG off): none of the production switches are on.
    assert (settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS) == (
        False, False, 0)
