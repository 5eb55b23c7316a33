"""A phone's autodiscover (the mobilesync schema) names /Microsoft-Server-ActiveSync on the
webmail's host; Outlook's request still gets the IMAP/SMTP answer."""

import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own answers in a test

import pytest
from django.test import Client

from tests.factories import DomainFactory, MailboxFactory

R = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
MS = "{http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006}"
REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">
  <Request><EMailAddress>{address}</EMailAddress>
  <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema>
  </Request></Autodiscover>"""


@pytest.fixture
def acme(db, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "autodiscover.acme.test", "mail.example.net"]
    domain = DomainFactory(name="acme.test")
    MailboxFactory(domain=domain, local_part="anna")
    return domain


@pytest.mark.parametrize("local_part", ["anna", "nobody"])  # no address oracle: the same answer
def test_a_phone_is_told_the_activesync_url_on_the_webmails_host(acme, settings, local_part):
    settings.PORTAL_HOSTS = {
        **settings.PORTAL_HOSTS,
        "webmail": "mail.example.net",
        "mailadmin": "panel.example.net",
    }
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "panel.example.net"]
    response = Client().post(
        "/Autodiscover/Autodiscover.xml",
        data=REQUEST.format(address=f"{local_part}@acme.test"),
        content_type="text/xml",
        HTTP_HOST="autodiscover.acme.test",
    )
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 - our own answer
    server = root.find(f"{MS}Response/{MS}Action/{MS}Settings/{MS}Server")
    assert server.findtext(f"{MS}Type") == "MobileSync"
    assert server.findtext(f"{MS}Url") == "https://mail.example.net/Microsoft-Server-ActiveSync"
    assert root.findtext(f"{MS}Response/{MS}User/{MS}EMailAddress") == f"{local_part}@acme.test"
    # and the endpoint is there on that host (OPTIONS needs no login)
    options = Client().options("/Microsoft-Server-ActiveSync", HTTP_HOST="mail.example.net")
    assert options.status_code == 200 and options["MS-ASProtocolVersions"] == "14.1,16.1"
    # and only there, not on another portal's host
    assert Client().options("/Microsoft-Server-ActiveSync", HTTP_HOST="panel.example.net").status_code == 404


def test_an_unknown_domain_gets_nothing(db):
    response = Client().post(
        "/Autodiscover/Autodiscover.xml",
        data=REQUEST.format(address="anna@nowhere.test"),
        content_type="text/xml",
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/autodiscover/autodiscover.json?Email={address}&Protocol=ActiveSync",
        "/autodiscover/autodiscover.json/v1.0/{address}?Protocol=activesync",
        "/Autodiscover/Autodiscover.json?Email={address}&Protocol=ActiveSync",
    ],
)
def test_autodiscover_v2_names_the_activesync_url(acme, settings, path):
    """The JSON form (Autodiscover v2) that Outlook mobile and newer clients ask first."""
    settings.PORTAL_HOSTS = {**settings.PORTAL_HOSTS, "webmail": "mail.example.net"}
    response = Client().get(path.format(address="anna@acme.test"), HTTP_HOST="autodiscover.acme.test")
    assert response.status_code == 200
    assert response.json() == {
        "Protocol": "ActiveSync",
        "Url": "https://mail.example.net/Microsoft-Server-ActiveSync",
    }
    # the XML form's URL for AutodiscoverV1, an error for a protocol not served here
    v1 = Client().get(
        "/autodiscover/autodiscover.json?Email=anna@acme.test&Protocol=AutodiscoverV1",
        HTTP_HOST="autodiscover.acme.test",
    )
    assert v1.json() == {
        "Protocol": "AutodiscoverV1",
        "Url": "https://autodiscover.acme.test/autodiscover/autodiscover.xml",
    }
    ews = Client().get(
        "/autodiscover/autodiscover.json?Email=anna@acme.test&Protocol=Ews",
        HTTP_HOST="autodiscover.acme.test",
    )
    assert ews.status_code == 400 and ews.json()["ErrorCode"] == "InvalidProtocol"


def test_autodiscover_v2_knows_nothing_of_other_domains(acme):
    for path in (
        "/autodiscover/autodiscover.json?Email=anna@nowhere.test&Protocol=ActiveSync",
        "/autodiscover/autodiscover.json?Protocol=ActiveSync",
        "/autodiscover/autodiscover.json/v1.0/not-an-address?Protocol=ActiveSync",
    ):
        assert Client().get(path, HTTP_HOST="autodiscover.acme.test").status_code == 404, path
    assert (
        Client().post("/autodiscover/autodiscover.json?Email=anna@acme.test&Protocol=ActiveSync").status_code
        == 405
    )
