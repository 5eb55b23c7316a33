"""The portal registry (core.portals): one list from which the URLconfs, the host routing and
the absolute links are derived."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from core.portals import REGISTRY, portal, portal_for_host, portal_url

HOSTS = {spec.name: f"{spec.name}.example.test" for spec in REGISTRY}


@pytest.fixture
def production_hosts(settings):
    settings.PORTAL_HOSTS = dict(HOSTS)
    settings.ALLOWED_HOSTS = list(HOSTS.values())


def test_settings_portals_come_from_the_registry():
    assert django_settings.PORTALS == [spec.name for spec in REGISTRY]
    assert set(django_settings.PORTAL_HOSTS) == set(django_settings.PORTALS)
    assert [spec.host_setting for spec in REGISTRY] == [
        f"MAILSUITE_HOST_{spec.name.upper()}" for spec in REGISTRY
    ]


def test_development_link_is_the_public_base_url_plus_the_prefixed_path(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000/"
    settings.PORTAL_HOSTS = {name: "" for name in HOSTS}

    assert portal_url("mailadmin", "mailadmin:home") == "http://127.0.0.1:8000/mailadmin/"
    assert (
        portal_url("mailadmin", "mailadmin:mailbox", args=["acme.test", 7])
        == "http://127.0.0.1:8000/mailadmin/d/acme.test/m/7/"
    )
    assert portal_url("backoffice", "admin:index") == "http://127.0.0.1:8000/backoffice/"
    assert portal_url("customer", "customer:monitor", query={"a": "b c"}) == (
        "http://127.0.0.1:8000/customer/mail/monitor/?a=b+c"
    )


def test_production_link_is_https_on_the_portals_host_without_the_prefix(production_hosts):
    assert portal_url("mailadmin", "mailadmin:home") == "https://mailadmin.example.test/"
    assert (
        portal_url("mailadmin", "mailadmin:mailbox", args=["acme.test", 7])
        == "https://mailadmin.example.test/d/acme.test/m/7/"
    )
    assert portal_url("backoffice", "admin:index") == "https://backoffice.example.test/"
    assert portal_url("webmail", "webmail:home") == "https://webmail.example.test/"


def test_a_view_of_another_portal_or_an_unknown_portal_is_refused(production_hosts):
    with pytest.raises(ValueError, match="not a view of the portal 'mailadmin'"):
        portal_url("mailadmin", "webmail:home")
    with pytest.raises(LookupError, match="No portal named 'intranet'"):
        portal_url("intranet", "mailadmin:home")


def test_portal_for_host_ignores_port_and_case(production_hosts):
    assert portal_for_host("MailAdmin.Example.Test:443") is portal("mailadmin")
    assert portal_for_host("elsewhere.example.test") is None


@pytest.mark.django_db
@pytest.mark.parametrize("spec", REGISTRY, ids=[spec.name for spec in REGISTRY])
def test_every_portal_answers_on_its_host_and_under_its_prefix(spec, production_hosts, settings):
    # on its own host: the home page (or the login redirect on that host)
    link = portal_url(spec.name, spec.home)
    parts = urlsplit(link)
    response = Client().get(parts.path, HTTP_HOST=parts.hostname, secure=True)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")

    # under its prefix on a host that is no portal's own (development layout)
    settings.PORTAL_HOSTS = {name: "" for name in HOSTS}
    settings.ALLOWED_HOSTS = ["testserver"]
    response = Client().get(f"/{spec.prefix}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].startswith(f"/{spec.prefix}login/")


@pytest.mark.django_db
def test_a_link_built_while_another_portal_serves_a_request_is_right(production_hosts):
    # given a request being served by the back office's own host URLconf
    from django.urls import set_urlconf

    from mailsuite.urls import HOST_URLCONFS

    set_urlconf(HOST_URLCONFS["backoffice"])
    try:
        # when a control-panel link is built (as domain_register does, from the admin)
        link = portal_url("mailadmin", "mailadmin:home")
    finally:
        set_urlconf(None)

    # then it is the control panel's, on the control panel's host
    assert link == "https://mailadmin.example.test/"
