"""Production mode (MAILSUITE_DEBUG=0) refuses to start without its secrets; development
defaults just work. Each case is a fresh interpreter, as a real start is."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings as django_settings

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
    "'whitenoise': 'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE}))"
)


def start(**overrides: str) -> subprocess.CompletedProcess:
    # Empty values (not absent ones): the .env file only fills variables that are not set at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSUITE_")}
    env.update({name: "" for name in PRODUCTION if name != "MAILSUITE_DEBUG"})
    env.update({"DJANGO_SETTINGS_MODULE": "mailsuite.settings", **overrides})
    return subprocess.run(
        [sys.executable, "-c", REPORT],
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
        "hosts": ["mail.example.net", "webmail.example.net"],
        "session_secure": True,
        "csrf_secure": True,
        "email": "django.core.mail.backends.smtp.EmailBackend",
        "hasher": "accounts.hashers.MailArgon2PasswordHasher",
        "language": "it",
        "tz": "Europe/Rome",
        "whitenoise": True,
    }


def test_development_defaults_start_without_any_variable():
    result = start(MAILSUITE_DEBUG="1")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["debug"], report["session_secure"], report["whitenoise"]) == (True, False, False)
    assert report["email"] == "django.core.mail.backends.filebased.EmailBackend"
    assert "127.0.0.1" in report["hosts"]


def test_every_variable_the_readme_documents_exists():
    settings_source = (BASE_DIR / "mailsuite" / "settings.py").read_text()
    known = set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", settings_source))
    known |= {f"MAILSUITE_HOST_{portal.upper()}" for portal in django_settings.PORTALS}
    known |= set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", (BASE_DIR / "Procfile").read_text()))
    documented = set(re.findall(r"MAILSUITE_[A-Z0-9_]*[A-Z0-9]", (BASE_DIR / "README.md").read_text()))
    assert documented - known == set()
