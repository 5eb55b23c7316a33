"""What a mail program needs to set up an account of a hosted domain: the FAQ's parameters
(IMAP 993, POP3 995, SMTP 465, all implicit TLS; user name = the address; host names from
settings). Served by Thunderbird's autoconfig, Outlook's autodiscover and the Apple profile.

The answer depends on the domain only, never on whether the address exists: a client-setup
endpoint must not tell the Internet which addresses are mailboxes. A name that is not an
active hosted domain (or a domain alias of one) gets nothing."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

from domains.models import Domain, DomainAlias
from domains.validators import validate_local_part

LOGIN_TEMPLATE = "%EMAILLOCALPART%"


@dataclass(frozen=True)
class Server:
    host: str
    port: int


@dataclass(frozen=True)
class ClientSetup:
    domain: str  # the hosted domain the address delivers as
    names: tuple[str, ...]  # that domain and its domain aliases
    display_name: str
    imap: Server
    pop3: Server
    smtp: Server

    def login(self, local_part: str) -> str:
        """The user name: the address at the hosted domain (a domain alias's address logs in
        as the mailbox it is)."""
        return f"{local_part}@{self.domain}"


def servers() -> tuple[Server, Server, Server]:
    return (
        Server(*settings.MAIL_CLIENT_IMAP),
        Server(*settings.MAIL_CLIENT_POP3),
        Server(*settings.MAIL_CLIENT_SMTP),
    )


def setup_for_domain(name: str) -> ClientSetup | None:
    name = (name or "").strip().lower().rstrip(".")
    if not name or len(name) > 253:
        return None
    domain = Domain.objects.filter(name=name, is_active=True).first()
    if domain is None:
        alias = DomainAlias.objects.select_related("domain").filter(name=name, domain__is_active=True).first()
        if alias is None:
            return None
        domain = alias.domain
    names = (
        domain.name,
        *DomainAlias.objects.filter(domain=domain).order_by("name").values_list("name", flat=True),
    )
    imap, pop3, smtp = servers()
    return ClientSetup(
        domain=domain.name,
        names=names,
        display_name=domain.brand_name or domain.name,
        imap=imap,
        pop3=pop3,
        smtp=smtp,
    )


def setup_for_address(address: str) -> tuple[ClientSetup, str] | None:
    """(setup, local part) for a syntactically valid address of a hosted domain, else None."""
    local, at, domain = (address or "").strip().rpartition("@")
    if not at or not local:
        return None
    local = local.lower()
    try:
        validate_local_part(local)
    except ValidationError:
        return None
    setup = setup_for_domain(domain)
    return (setup, local) if setup is not None else None
