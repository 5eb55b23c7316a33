"""Client set-up: Thunderbird's autoconfig, Outlook's autodiscover and the Apple profile, parsed
as their clients parse them, with the FAQ's parameters (IMAP 993, POP3 995, SMTP 465, all TLS;
user = the address); hosted domains only, the same answer for any local part (no address
oracle); the app-password page shows the same parameters."""

import plistlib
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own answers in a test

import pytest
from django.test import Client

from domains import services
from tests.factories import DomainFactory, MailboxFactory

NS = {
    "r": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
    "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
}
AUTODISCOVER = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>{address}</EMailAddress>
  <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request></Autodiscover>"""


@pytest.fixture
def acme(db, settings):
    settings.MAIL_CLIENT_IMAP = ("imap.mail.example", 993)
    settings.MAIL_CLIENT_POP3 = ("pop.mail.example", 995)
    settings.MAIL_CLIENT_SMTP = ("smtp.mail.example", 465)
    settings.ALLOWED_HOSTS = [
        *settings.ALLOWED_HOSTS,
        "autoconfig.acme.test",
        "acme.test",
        "autodiscover.acme.test",
    ]
    domain = DomainFactory(name="acme.test")
    MailboxFactory(domain=domain, local_part="anna")
    services.domain_alias_create(domain=domain, name="acme-alias.test")
    return domain


def thunderbird(root: ET.Element) -> dict:
    provider = root.find("emailProvider")
    servers = {}
    for element in [*provider.findall("incomingServer"), *provider.findall("outgoingServer")]:
        servers[element.get("type")] = {child.tag: child.text for child in element}
    return {
        "id": provider.get("id"),
        "domains": [d.text for d in provider.findall("domain")],
        "servers": servers,
    }


def expected_server(host: str, port: int) -> dict:
    return {
        "hostname": host,
        "port": str(port),
        "socketType": "SSL",
        "authentication": "password-cleartext",
        "username": "%EMAILLOCALPART%@acme.test",
    }


@pytest.mark.parametrize(
    "url,host",
    [
        ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=anna%40acme.test", "acme.test"),
        ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=anna%40acme-alias.test", "acme.test"),
        ("/mail/config-v1.1.xml", "autoconfig.acme.test"),
        ("/mail/config-v1.1.xml?emailaddress=nobody%40acme.test", "autoconfig.acme.test"),
    ],
)
def test_thunderbird_autoconfig_has_the_faq_parameters(acme, url, host):
    response = Client().get(url, HTTP_HOST=host)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    parsed = thunderbird(ET.fromstring(response.content))  # noqa: S314 - our own answer
    assert parsed == {
        "id": "acme.test",
        "domains": ["acme.test", "acme-alias.test"],
        "servers": {
            "imap": expected_server("imap.mail.example", 993),
            "pop3": expected_server("pop.mail.example", 995),
            "smtp": expected_server("smtp.mail.example", 465),
        },
    }


@pytest.mark.parametrize(
    "url,host",
    [
        ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=anna%40gmail.example", "acme.test"),
        ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=not-an-address", "acme.test"),
        ("/mail/config-v1.1.xml", "testserver"),
    ],
)
def test_thunderbird_autoconfig_answers_hosted_domains_only(acme, url, host):
    response = Client().get(url, HTTP_HOST=host)
    assert response.status_code == 404
    assert b"acme" not in response.content and b"mail.example" not in response.content


def test_the_answer_does_not_tell_whether_an_address_exists(acme):
    client = Client()
    url = "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="
    assert client.get(url + "anna@acme.test").content == client.get(url + "ghost@acme.test").content
    existing = client.post(
        "/autodiscover/autodiscover.xml",
        AUTODISCOVER.format(address="anna@acme.test"),
        content_type="text/xml",
    )
    missing = client.post(
        "/autodiscover/autodiscover.xml",
        AUTODISCOVER.format(address="ghost@acme.test"),
        content_type="text/xml",
    )
    assert existing.status_code == missing.status_code == 200
    assert existing.content.replace(b"anna", b"ghost") == missing.content


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"])
def test_outlook_autodiscover_has_the_faq_parameters(acme, path):
    response = Client(enforce_csrf_checks=True).post(
        path,
        AUTODISCOVER.format(address="Anna@acme-alias.test"),
        content_type="text/xml",
        HTTP_HOST="autodiscover.acme.test",
    )
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 - our own answer
    account = root.find("o:Response/o:Account", NS)
    assert account.find("o:AccountType", NS).text == "email"
    assert account.find("o:Action", NS).text == "settings"
    protocols = {
        p.find("o:Type", NS).text: {c.tag.split("}")[1]: c.text for c in p}
        for p in account.findall("o:Protocol", NS)
    }
    for kind, host, port in (
        ("IMAP", "imap.mail.example", "993"),
        ("POP3", "pop.mail.example", "995"),
        ("SMTP", "smtp.mail.example", "465"),
    ):
        p = protocols[kind]
        assert (p["Server"], p["Port"], p["SSL"], p["Encryption"], p["LoginName"], p["AuthRequired"]) == (
            host,
            port,
            "on",
            "SSL",
            "anna@acme.test",
            "on",
        ), kind


@pytest.mark.parametrize(
    "body",
    [
        AUTODISCOVER.format(address="anna@gmail.example"),
        AUTODISCOVER.format(address="no-at-sign"),
        "<not xml",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><Autodiscover><Request>'
        "<EMailAddress>&a;@acme.test</EMailAddress></Request></Autodiscover>",
    ],
)
def test_outlook_autodiscover_answers_hosted_domains_only(acme, body):
    response = Client().post("/autodiscover/autodiscover.xml", body, content_type="text/xml")
    assert response.status_code == 404
    assert b"mail.example" not in response.content


def test_autodiscover_is_post_only(acme):
    assert Client().get("/autodiscover/autodiscover.xml").status_code == 405


def test_the_apple_profile_is_the_logged_in_users_and_the_app_password_page_agrees(webmail_user, settings):
    settings.MAIL_CLIENT_IMAP = ("imap.mail.example", 993)
    settings.MAIL_CLIENT_SMTP = ("smtp.mail.example", 465)
    settings.MAIL_CLIENT_POP3 = ("pop.mail.example", 995)
    user = webmail_user()
    # anonymous: the login page, no profile
    anonymous = Client().get("/webmail/settings/mail-programs.mobileconfig")
    assert anonymous.status_code == 302 and "/webmail/login/" in anonymous["Location"]
    # the user's own profile, parsed as a property list
    response = user.client.get("/webmail/settings/mail-programs.mobileconfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    assert f'filename="{user.address}.mobileconfig"' in response["Content-Disposition"]
    profile = plistlib.loads(response.content)
    assert profile["PayloadType"] == "Configuration"
    [mail] = profile["PayloadContent"]
    assert {
        k: mail[k]
        for k in (
            "PayloadType",
            "EmailAccountType",
            "EmailAddress",
            "IncomingMailServerHostName",
            "IncomingMailServerPortNumber",
            "IncomingMailServerUseSSL",
            "IncomingMailServerUsername",
            "OutgoingMailServerHostName",
            "OutgoingMailServerPortNumber",
            "OutgoingMailServerUseSSL",
            "OutgoingMailServerUsername",
        )
    } == {
        "PayloadType": "com.apple.mail.managed",
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": user.address,
        "IncomingMailServerHostName": "imap.mail.example",
        "IncomingMailServerPortNumber": 993,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": user.address,
        "OutgoingMailServerHostName": "smtp.mail.example",
        "OutgoingMailServerPortNumber": 465,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": user.address,
    }
    # a second download is the same profile (it replaces, not duplicates, on the device)
    assert user.client.get("/webmail/settings/mail-programs.mobileconfig").content == response.content
    # the app-password page shows the same parameters, 465 with TLS (not 587 STARTTLS)
    page = user.client.get("/webmail/settings/app-passwords/").content.decode()
    facts = page.split("data-client-settings", 1)[1].split("</dl>", 1)[0]
    assert user.address in facts
    assert "imap.mail.example, " in facts and " 993, SSL/TLS" in facts
    assert "pop.mail.example, " in facts and " 995, SSL/TLS" in facts
    assert "smtp.mail.example, " in facts and " 465, SSL/TLS" in facts
    assert "587" not in facts and "STARTTLS" not in facts
