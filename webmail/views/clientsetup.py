"""Client set-up served by the suite: Thunderbird's autoconfig, Outlook's autodiscover (both
public, answered for hosted domains only, the same answer whatever the local part: nothing tells
whether an address exists) and the Apple configuration profile of the logged-in mailbox."""

import plistlib
import re
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - used to build documents, never to parse input

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.portals import portal_host
from domains.clientsetup import LOGIN_TEMPLATE, ClientSetup, setup_for_address, setup_for_domain
from webmail.views.common import webmail_view

AUTOCONFIG_HOST_PREFIX = "autoconfig."
AUTODISCOVER_REQUEST_MAX = 16 * 1024
# Outlook's request is a small POX document; the address is all we read from it, without an
# XML parser (no entity expansion to worry about).
_EMAIL_ELEMENT = re.compile(rb"<(?:\w+:)?EMailAddress>\s*([^<\s]{3,320})\s*</(?:\w+:)?EMailAddress>", re.I)
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MOBILESYNC_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"


def _xml(root: ET.Element, content_type: str = "application/xml; charset=utf-8") -> HttpResponse:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def thunderbird_document(setup: ClientSetup) -> ET.Element:
    """Mozilla's config-v1.1 format (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat)."""
    root = ET.Element("clientConfig", version="1.1")
    provider = _sub(root, "emailProvider", id=setup.domain)
    for name in setup.names:
        _sub(provider, "domain", name)
    _sub(provider, "displayName", setup.display_name)
    _sub(provider, "displayShortName", setup.display_name)
    login = f"{LOGIN_TEMPLATE}@{setup.domain}"
    for kind, tag, server in (("imap", "incomingServer", setup.imap), ("pop3", "incomingServer", setup.pop3)):
        element = _sub(provider, tag, type=kind)
        _sub(element, "hostname", server.host)
        _sub(element, "port", server.port)
        _sub(element, "socketType", "SSL")
        _sub(element, "authentication", "password-cleartext")
        _sub(element, "username", login)
    smtp = _sub(provider, "outgoingServer", type="smtp")
    _sub(smtp, "hostname", setup.smtp.host)
    _sub(smtp, "port", setup.smtp.port)
    _sub(smtp, "socketType", "SSL")
    _sub(smtp, "authentication", "password-cleartext")
    _sub(smtp, "username", login)
    return root


@require_GET
def thunderbird_autoconfig(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=… on the domain, or
    /mail/config-v1.1.xml on autoconfig.<domain>."""
    address = request.GET.get("emailaddress", "")
    if address:
        found = setup_for_address(address)
        setup = found[0] if found else None
    else:
        host = request.get_host().split(":")[0].lower()
        name = host.removeprefix(AUTOCONFIG_HOST_PREFIX) if host.startswith(AUTOCONFIG_HOST_PREFIX) else host
        setup = setup_for_domain(name)
    if setup is None:
        raise Http404
    return _xml(thunderbird_document(setup))


def outlook_document(setup: ClientSetup, local_part: str) -> ET.Element:
    """The POX response Outlook expects (MS-OXDSCLI), one Protocol per service."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = _sub(root, "Response", xmlns=OUTLOOK_NS)
    account = _sub(response, "Account")
    _sub(account, "AccountType", "email")
    _sub(account, "Action", "settings")
    for kind, server, encryption in (
        ("IMAP", setup.imap, "SSL"),
        ("POP3", setup.pop3, "SSL"),
        ("SMTP", setup.smtp, "SSL"),
    ):
        protocol = _sub(account, "Protocol")
        _sub(protocol, "Type", kind)
        _sub(protocol, "Server", server.host)
        _sub(protocol, "Port", server.port)
        _sub(protocol, "LoginName", setup.login(local_part))
        _sub(protocol, "DomainRequired", "off")
        _sub(protocol, "SPA", "off")
        _sub(protocol, "SSL", "on")
        _sub(protocol, "Encryption", encryption)
        _sub(protocol, "AuthRequired", "on")
        if kind == "SMTP":
            _sub(protocol, "UsePOPAuth", "off")
            _sub(protocol, "SMTPLast", "off")
    return root


def activesync_url() -> str:
    """Where phones find ActiveSync: /Microsoft-Server-ActiveSync on the webmail's host."""
    host = portal_host("webmail")
    path = reverse("activesync:endpoint", urlconf=settings.ROOT_URLCONF)
    return f"https://{host}{path}" if host else f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def mobilesync_document(setup: ClientSetup, local_part: str) -> ET.Element:
    """The answer to a phone's autodiscover (MS-ASCMD Autodiscover, mobilesync schema): the
    ActiveSync URL. The display name is the address: nothing tells whether it exists."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = _sub(root, "Response", xmlns=MOBILESYNC_NS)
    _sub(response, "Culture", "en:us")
    user = _sub(response, "User")
    address = setup.login(local_part)
    _sub(user, "DisplayName", address)
    _sub(user, "EMailAddress", address)
    server = _sub(_sub(_sub(response, "Action"), "Settings"), "Server")
    _sub(server, "Type", "MobileSync")
    _sub(server, "Url", activesync_url())
    _sub(server, "Name", activesync_url())
    return root


@csrf_exempt  # a public endpoint Outlook posts to; it changes nothing
@require_POST
def outlook_autodiscover(request: HttpRequest) -> HttpResponse:
    body = request.body[:AUTODISCOVER_REQUEST_MAX]
    match = _EMAIL_ELEMENT.search(body)
    found = setup_for_address(match.group(1).decode("utf-8", "replace")) if match else None
    if found is None:
        raise Http404
    setup, local_part = found
    if b"/mobilesync/responseschema/" in body:  # a phone's request (AcceptableResponseSchema)
        return _xml(mobilesync_document(setup, local_part), content_type="text/xml; charset=utf-8")
    return _xml(outlook_document(setup, local_part), content_type="text/xml; charset=utf-8")


# Autodiscover v2 (the JSON form Outlook mobile and newer clients ask first): which URL serves a
# protocol for an address. Only what this suite serves; the protocol names are case-insensitive.
AUTODISCOVER_V2_PROTOCOLS = {"activesync": "ActiveSync", "autodiscoverv1": "AutodiscoverV1"}


@require_GET
def autodiscover_json(request: HttpRequest, address: str = "") -> HttpResponse:
    """GET /autodiscover/autodiscover.json?Email=…&Protocol=ActiveSync (or …/v1.0/<address>?…):
    {"Protocol": …, "Url": …}; 400 with an ErrorCode for a protocol not served here, 404 for an
    address of a domain not hosted here (as the XML form)."""
    address = (address or request.GET.get("Email", "")).strip()[:320]
    found = setup_for_address(address) if address else None
    if found is None:
        raise Http404
    wanted = request.GET.get("Protocol", "").strip().lower()
    protocol = AUTODISCOVER_V2_PROTOCOLS.get(wanted)
    if protocol is None:
        return JsonResponse(
            {
                "ErrorCode": "InvalidProtocol",
                "ErrorMessage": f"The given protocol value '{wanted[:40]}' is invalid.",
            },
            status=400,
        )
    if protocol == "ActiveSync":
        url = activesync_url()
    else:
        url = request.build_absolute_uri(reverse("autodiscover", urlconf=settings.ROOT_URLCONF))
        url = "https://" + url.partition("://")[2]
    return JsonResponse({"Protocol": protocol, "Url": url})


def apple_profile_document(setup: ClientSetup, *, address: str, mailbox_id: int, full_name: str) -> bytes:
    """An unsigned configuration profile with one com.apple.mail.managed payload (IMAP + SMTP);
    the password is asked on the device. Stable UUIDs: a new download replaces the profile."""
    local_part = address.rpartition("@")[0]
    login = setup.login(local_part)
    base = uuid.uuid5(uuid.NAMESPACE_DNS, f"mailsuite.mobileconfig.{mailbox_id}.{setup.domain}")
    identifier = ".".join(reversed(setup.domain.split("."))) + ".mailsuite"
    payload = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.mail.{mailbox_id}",
        "PayloadUUID": str(uuid.uuid5(base, "mail")).upper(),
        "PayloadDisplayName": address,
        "EmailAccountDescription": address,
        "EmailAccountName": full_name or address,
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": setup.imap.host,
        "IncomingMailServerPortNumber": setup.imap.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": login,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": setup.smtp.host,
        "OutgoingMailServerPortNumber": setup.smtp.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": login,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.{mailbox_id}",
        "PayloadUUID": str(base).upper(),
        "PayloadDisplayName": f"{setup.display_name}: {address}",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [payload],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


@webmail_view
def apple_profile(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox
    setup = setup_for_domain(mailbox.domain.name)
    if setup is None:
        raise Http404
    body = apple_profile_document(
        setup, address=mailbox.address, mailbox_id=mailbox.pk, full_name=mailbox.full_name
    )
    response = HttpResponse(body, content_type="application/x-apple-aspen-config")
    response["Content-Disposition"] = f'attachment; filename="{mailbox.address}.mobileconfig"'
    response["Cache-Control"] = "no-store"
    return response
