"""Production mode (MAILSUITE_DEBUG=0) refuses to start without its secrets; development
defaults just work. Each case is a fresh interpreter, as a real start is."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from mailsuite.settings import DEVELOPMENT_SECRETS

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "MAILSUITE_DEBUG": "0",
    "MAILSUITE_SECRET_KEY": "x" * 50,
    "MAILSUITE_ALLOWED_HOSTS": "mail.example.net,webmail.example.net",
    "MAILSUITE_INTERNAL_API_TOKEN": "internal-token-for-tests",
    "MAILSUITE_DOVECOT_DB_PASSWORD": "dovecot-db-password-for-tests",
    "MAILSUITE_MAILSTORE_MASTER_PASSWORD": "master-password-for-tests",
}
REPORT = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, "
    "'session_secure': settings.SESSION_COOKIE_SECURE, 'csrf_secure': settings.CSRF_COOKIE_SECURE, "
    "'email': settings.EMAIL_BACKEND, 'hasher': settings.PASSWORD_HASHERS[0], "
    "'language': settings.LANGUAGE_CODE, 'tz': settings.TIME_ZONE, "
    "'whitenoise': 'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE, "
    "'ssl_redirect': settings.SECURE_SSL_REDIRECT, 'redirect_exempt': settings.SECURE_REDIRECT_EXEMPT, "
    "'hsts': settings.SECURE_HSTS_SECONDS, 'proxy_ssl_header': settings.SECURE_PROXY_SSL_HEADER, "
    "'trusted_proxies': settings.TRUSTED_PROXIES, 'internal_only_hosts': settings.INTERNAL_ONLY_HOSTS, "
    "'fail_mode': settings.AUTH_POLICY_FAIL_MODE}))"
)
# A machine without the development .env (a production container): read_env finds nothing.
WITHOUT_DOTENV = "import environ; environ.Env.read_env = classmethod(lambda cls, *a, **k: None); "


def start(*, dotenv: bool = True, **overrides: str) -> subprocess.CompletedProcess:
    # Empty values (not absent ones): the .env file only fills variables that are not set at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSUITE_")}
    env.update({name: "" for name in PRODUCTION if name != "MAILSUITE_DEBUG"})
    env.update({"DJANGO_SETTINGS_MODULE": "mailsuite.settings", **overrides})
    return subprocess.run(
        [sys.executable, "-c", (REPORT if dotenv else WITHOUT_DOTENV + REPORT)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_secret_key_refuses_to_start():
    result = start(**{**PRODUCTION, "MAILSUITE_SECRET_KEY": ""})
    assert result.returncode == 1
    assert "ImproperlyConfigured: MAILSUITE_SECRET_KEY is required" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    result = start(**{**PRODUCTION, "MAILSUITE_ALLOWED_HOSTS": ""})
    assert result.returncode == 1
    assert "ImproperlyConfigured: MAILSUITE_ALLOWED_HOSTS is required" in result.stderr


def test_production_without_internal_api_token_refuses_to_start():
    result = start(**{**PRODUCTION, "MAILSUITE_INTERNAL_API_TOKEN": ""})
    assert result.returncode == 1
    assert "ImproperlyConfigured: MAILSUITE_INTERNAL_API_TOKEN is required" in result.stderr


def test_production_with_its_secrets_starts_with_secure_cookies_and_smtp_email():
    result = start(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "debug": False,
        # The host of MAILSUITE_INTERNAL_BASE_URL (default http://127.0.0.1:8000) is added, for
        # /internal/ and /healthz only (mailsuite.portals.InternalHostMiddleware).
        "hosts": ["mail.example.net", "webmail.example.net", "127.0.0.1"],
        "internal_only_hosts": ["127.0.0.1"],
        "session_secure": True,
        "csrf_secure": True,
        "email": "django.core.mail.backends.smtp.EmailBackend",
        "hasher": "accounts.hashers.MailArgon2PasswordHasher",
        "language": "it",
        "tz": "Europe/Rome",
        "whitenoise": True,
        "ssl_redirect": True,
        "redirect_exempt": ["^internal/", "^healthz$"],
        "hsts": 31536000,
        "proxy_ssl_header": None,
        "trusted_proxies": [],
        "fail_mode": "closed",
    }


def test_development_defaults_start_without_any_variable():
    result = start(MAILSUITE_DEBUG="1")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["debug"], report["session_secure"], report["whitenoise"]) == (True, False, False)
    assert report["email"] == "django.core.mail.backends.filebased.EmailBackend"
    assert "127.0.0.1" in report["hosts"]


def test_debug_is_off_when_nothing_turns_it_on():
    # Given no MAILSUITE_DEBUG and no development .env: production, which wants its secrets
    result = start(dotenv=False)
    assert result.returncode == 1
    assert "ImproperlyConfigured: MAILSUITE_SECRET_KEY is required" in result.stderr

    production = {k: v for k, v in PRODUCTION.items() if k != "MAILSUITE_DEBUG"}
    result = start(dotenv=False, **production)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["debug"], report["session_secure"], report["ssl_redirect"]) == (False, True, True)


def test_the_development_setup_turns_debug_on_in_the_env_file_it_writes():
    setup = (BASE_DIR / "scripts" / "setup.sh").read_text()
    assert "grep -q '^MAILSUITE_DEBUG=' .env" in setup
    assert 'echo "MAILSUITE_DEBUG=1" >> .env' in setup


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_SECRETS))
def test_production_refuses_the_development_placeholder_secrets(name):
    result = start(**{**PRODUCTION, name: DEVELOPMENT_SECRETS[name]})
    assert result.returncode == 1
    assert f"ImproperlyConfigured: {name} is a placeholder" in result.stderr


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_SECRETS))
def test_production_refuses_the_change_me_values_of_the_example_env_file(name):
    example = (BASE_DIR / "docs" / "production.env.example").read_text()
    placeholder = re.search(rf"^{name}=(.*)$", example, re.MULTILINE).group(1)
    assert placeholder.startswith("change-me")
    result = start(**{**PRODUCTION, name: placeholder})
    assert result.returncode == 1
    assert f"ImproperlyConfigured: {name} is a placeholder" in result.stderr


def test_trusted_proxies_turn_on_the_forwarded_proto_header():
    result = start(**PRODUCTION, MAILSUITE_TRUSTED_PROXIES="10.0.0.5,192.0.2.0/24")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["trusted_proxies"] == ["10.0.0.5", "192.0.2.0/24"]
    assert report["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_a_trusted_proxy_that_is_not_an_address_refuses_to_start():
    result = start(**PRODUCTION, MAILSUITE_TRUSTED_PROXIES="proxy.example.net")
    assert result.returncode == 1
    assert "MAILSUITE_TRUSTED_PROXIES: 'proxy.example.net' is not an address or network" in result.stderr


def test_auth_policy_fail_mode_is_closed_or_open_and_nothing_else():
    result = start(**PRODUCTION, MAILSUITE_AUTH_POLICY_FAIL_MODE="open")
    assert json.loads(result.stdout)["fail_mode"] == "open"
    result = start(**PRODUCTION, MAILSUITE_AUTH_POLICY_FAIL_MODE="maybe")
    assert result.returncode == 1
    assert "MAILSUITE_AUTH_POLICY_FAIL_MODE must be 'closed' or 'open'" in result.stderr


def test_an_internal_host_already_among_the_allowed_hosts_is_not_restricted():
    result = start(**{**PRODUCTION, "MAILSUITE_ALLOWED_HOSTS": "webmail.example.net,127.0.0.1"})
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["hosts"], report["internal_only_hosts"]) == (["webmail.example.net", "127.0.0.1"], [])


def test_every_variable_the_readme_documents_exists():
    settings_source = (BASE_DIR / "mailsuite" / "settings.py").read_text()
    known = set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", settings_source))
    known |= {f"MAILSUITE_HOST_{portal.upper()}" for portal in django_settings.PORTALS}
    known |= set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", (BASE_DIR / "Procfile").read_text()))
    documented = set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", (BASE_DIR / "README.md").read_text()))
    assert documented - known == set()
