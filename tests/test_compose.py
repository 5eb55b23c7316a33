"""docker-compose.yml (production) describes the same processes as the Procfile. Docker cannot
run here, so the file is checked as data: services, commands, users, shared volumes."""

from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"migrate", "dovecot", "web", "smtpd", "worker", "beat", "rspamd"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def mounts(service: dict) -> dict[str, str]:
    """volume name (or host path) -> mount point"""
    return dict(
        entry.rsplit(":", 1)[0].split(":", 1) if entry.count(":") == 2 else entry.split(":", 1)
        for entry in service.get("volumes", [])
    )


def test_the_services_are_the_procfile_processes_plus_the_backing_stores(compose):
    # ClamAV is optional: its two services start only with `--profile clamav` (Procfile.clamav)
    optional = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert optional == {"clamd", "freshclam"}
    assert all(compose["services"][name]["profiles"] == ["clamav"] for name in optional)
    assert set(compose["services"]) - optional == {
        "postgres",
        "redis",
        "migrate",
        "dovecot",
        "web",
        "activesync",
        "smtpd",
        "worker",
        "beat",
        "rspamd",
    }


@pytest.mark.parametrize(
    ("service", "command"),
    [
        ("migrate", ["python", "manage.py", "migrate", "--no-input"]),
        ("dovecot", ["python", "manage.py", "dovecot"]),
        ("smtpd", ["python", "manage.py", "smtpd"]),
        ("rspamd", ["python", "manage.py", "rspamd"]),
    ],
)
def test_management_command_services(compose, service, command):
    assert compose["services"][service]["command"] == command
    assert command[2] in get_commands()  # the management command exists in this code base


def test_web_runs_gunicorn_on_the_wsgi_app(compose):
    command = compose["services"]["web"]["command"]
    assert command[:4] == ["gunicorn", "mailsuite.wsgi:application", "--bind", "0.0.0.0:8000"]


def test_worker_consumes_every_queue_the_settings_route_to(compose, settings):
    command = compose["services"]["worker"]["command"]
    assert command[:4] == ["celery", "-A", "mailsuite", "worker"]
    queues = command[command.index("-Q") + 1].split(",")
    assert sorted(queues) == sorted(settings.CELERY_WORKER_QUEUES)
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= set(queues)


def test_beat_runs_celery_beat_with_a_persistent_schedule(compose):
    command = compose["services"]["beat"]["command"]
    assert command[:4] == ["celery", "-A", "mailsuite", "beat"]
    assert "--schedule=/var/lib/mailsuite/celerybeat-schedule" in command
    assert mounts(compose["services"]["beat"])["data"] == "/var/lib/mailsuite"


def test_app_services_share_one_image_env_file_and_production_mode(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert (service["image"], service["build"], service["env_file"]) == ("mailsuite:latest", ".", ".env")
        assert service["environment"]["MAILSUITE_DEBUG"] == "0"
        assert service["environment"]["MAILSUITE_DATABASE_URL"].startswith("postgres://mailsuite:")
        assert "@postgres:5432/mailsuite" in service["environment"]["MAILSUITE_DATABASE_URL"]
        assert service["environment"]["MAILSUITE_REDIS_URL"] == "redis://redis:6379/0"


def test_loopback_services_share_dovecots_network_namespace(compose):
    services = compose["services"]
    for name in ("web", "activesync", "smtpd", "worker", "beat"):
        assert services[name]["network_mode"] == "service:dovecot"
    assert "network_mode" not in services["dovecot"]
    published = {p.rsplit(":", 1)[1] for p in services["dovecot"]["ports"]}
    assert published == {"25", "465", "587", "143", "993", "995", "4190", "8000", "8001"}


def test_mail_store_spool_and_media_volumes_are_shared_where_needed(compose):
    services = compose["services"]
    assert (
        mounts(services["dovecot"])["mail"] == mounts(services["worker"])["mail"] == "/var/lib/mailsuite/mail"
    )
    assert (
        mounts(services["smtpd"])["spool"]
        == mounts(services["worker"])["spool"]
        == "/var/lib/mailsuite/spool"
    )
    assert (
        mounts(services["web"])["media"] == mounts(services["worker"])["media"] == "/var/lib/mailsuite/media"
    )
    assert mounts(services["dovecot"])["dovecot"] == mounts(services["worker"])["dovecot"]
    assert {"pgdata", "redisdata", "data", "mail", "spool", "media", "dovecot"} <= set(compose["volumes"])
    assert mounts(services["postgres"])["pgdata"] == "/var/lib/postgresql/data"


def test_mount_points_match_the_settings_defaults_under_the_data_dir(compose):
    env = compose["services"]["worker"]["environment"]
    assert env["MAILSUITE_DATA_DIR"] == "/var/lib/mailsuite"
    # settings: MAIL_STORE_DIR, SPOOL_DIR, MEDIA_ROOT, DOVECOT_DIR default to DATA_DIR/<name>
    assert set(mounts(compose["services"]["worker"]).values()) >= {
        "/var/lib/mailsuite/mail",
        "/var/lib/mailsuite/spool",
        "/var/lib/mailsuite/media",
        "/var/lib/mailsuite/dovecot",
    }


def test_start_order_migrations_before_dovecot_before_the_rest(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert services["dovecot"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    for name in ("web", "smtpd", "worker", "beat"):
        assert "dovecot" in services[name]["depends_on"]


def test_dockerfile_builds_on_debian_12_with_python_3_11_and_dovecot():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert [line for line in dockerfile.splitlines() if line.startswith("FROM ")] == [
        "FROM python:3.11-slim-bookworm"
    ]
    for package in ("dovecot-core", "dovecot-imapd", "dovecot-lmtpd", "dovecot-pgsql", "dovecot-sieve"):
        assert package in dockerfile
    assert "collectstatic" in dockerfile and "compilemessages" in dockerfile


def test_gunicorn_leaves_forwarded_headers_to_django(compose):
    # Django believes X-Forwarded-Proto/-For from MAILSUITE_TRUSTED_PROXIES only
    # (core.client_address); gunicorn must not turn a client's header into https first.
    command = compose["services"]["web"]["command"]
    assert command[command.index("--forwarded-allow-ips") + 1] == ""


def test_activesync_runs_uvicorn_on_the_asgi_app_leaving_forwarded_headers_to_django(compose):
    command = compose["services"]["activesync"]["command"]
    assert command[:6] == ["uvicorn", "mailsuite.asgi:application", "--host", "0.0.0.0", "--port", "8001"]  # noqa: S104 (inside the container)
    assert "--no-proxy-headers" in command
    # a stop does not wait for the Pings' heartbeats; a socket per waiting phone
    assert command[command.index("--timeout-graceful-shutdown") + 1] == "5"
    assert compose["services"]["activesync"]["ulimits"]["nofile"]["hard"] >= 65536
    ports = [p for p in compose["services"]["dovecot"]["ports"] if p.endswith(":8001")]
    assert ports == ["${MAILSUITE_HTTP_BIND:-127.0.0.1}:${MAILSUITE_ACTIVESYNC_HTTP_PORT:-8001}:8001"]


def test_the_web_port_is_published_on_loopback_for_the_local_proxy(compose):
    web_ports = [p for p in compose["services"]["dovecot"]["ports"] if p.endswith(":8000")]
    assert web_ports == ["${MAILSUITE_HTTP_BIND:-127.0.0.1}:${MAILSUITE_HTTP_PORT:-8000}:8000"]


def test_the_health_check_calls_the_internal_host_over_plain_http(compose):
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8000/healthz" in test[-1]
    assert compose["x-app"]["environment"]["MAILSUITE_INTERNAL_BASE_URL"] == "http://127.0.0.1:8000"
