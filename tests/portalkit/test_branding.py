"""One branding module for every portal: the company name and a logo URL served by the portal
that shows it (not hard-wired to the webmail)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch

from portalkit.branding import Brand, brand_for, login_branding
from tests.factories import DomainFactory

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2dd4b6a0000000049454e44ae426082"
)


@pytest.fixture
def branded(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    domain = DomainFactory(name="acme.test")
    domain.brand_name = "ACME S.p.A."
    domain.brand_logo.save("acme.png", ContentFile(PNG), save=True)
    return domain


def test_brand_of_a_domain_with_name_and_logo_is_the_portals_own_url(branded):
    # when the webmail asks for the brand, then the logo is served by the webmail's own URL
    assert brand_for(branded, portal="webmail") == Brand(
        name="ACME S.p.A.", logo_url="/webmail/brand/acme.test/logo.png"
    )
    # and that URL serves the PNG
    response = Client().get("/webmail/brand/acme.test/logo.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG


def test_brand_without_name_or_logo_falls_back_to_the_domain_name():
    domain = DomainFactory(name="plain.test")
    assert brand_for(domain, portal="webmail") == Brand(name="plain.test", logo_url="")


def test_a_portal_that_does_not_serve_logos_cannot_get_a_logo_url(branded):
    # a portal shows a logo only by mounting brand_urlpatterns() itself: no silent link to another host
    with pytest.raises(NoReverseMatch):
        brand_for(branded, portal="customer")


def test_login_branding_finds_the_domain_by_parameter_or_host(branded, settings):
    settings.ALLOWED_HOSTS = ["mail.acme.test", "testserver"]
    branding = login_branding("webmail")
    by_parameter = branding(RequestFactory().get("/webmail/login/", {"domain": "acme.test"}))
    by_host = branding(RequestFactory().get("/webmail/login/", HTTP_HOST="mail.acme.test"))
    expected = {
        "brand_domain": branded,
        "brand_name": "ACME S.p.A.",
        "brand_logo_url": "/webmail/brand/acme.test/logo.png",
    }
    assert by_parameter == expected
    assert by_host == expected
    assert branding(RequestFactory().get("/webmail/login/", {"domain": "other.test"})) == {}


def test_an_inactive_domains_logo_is_not_served(branded):
    branded.is_active = False
    branded.save(update_fields=["is_active"])
    assert Client().get("/webmail/brand/acme.test/logo.png").status_code == 404
