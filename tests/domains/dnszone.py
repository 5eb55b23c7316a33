"""Test zones for the DNS page: one published as the suite asks, one broken in every record."""

from domains import dkim
from domains.models import Domain

MX_HOST = "mx1.mailsuite.test"
SETUP_HOST = "web.mailsuite.test"


def configure(settings) -> None:
    settings.DNS_MX_HOSTS = [MX_HOST]
    settings.DNS_CLIENT_SETUP_HOST = SETUP_HOST
    settings.DNS_SPF_RECORD = "v=spf1 mx -all"
    settings.DNS_DMARC_RECORD = "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"


def publish_correct(dns_server, domain: Domain) -> None:
    name = domain.name
    dns_server.set(name, "MX", f"10 {MX_HOST}.")
    dns_server.set(name, "TXT", "v=spf1 mx -all", "site-verification=abc123")
    for key in dkim.published_keys(domain):
        dns_server.set(dkim.record_name(key), "TXT", dkim.record_value(key))
    dns_server.set(f"_dmarc.{name}", "TXT", "v=DMARC1; p=quarantine; rua=mailto:postmaster@" + name)
    dns_server.set(f"autoconfig.{name}", "CNAME", f"{SETUP_HOST}.")
    dns_server.set(f"autodiscover.{name}", "CNAME", f"{SETUP_HOST}.")


def publish_broken(dns_server, domain: Domain, *, other_public_key: str) -> None:
    """MX elsewhere, two SPF records, another DKIM key, DMARC without a policy, autoconfig
    pointing to an old host, no autodiscover."""
    name = domain.name
    dns_server.set(name, "MX", "10 mx.elsewhere.example.")
    dns_server.set(name, "TXT", "v=spf1 mx -all", "v=spf1 include:_spf.elsewhere.example ~all")
    for key in dkim.published_keys(domain):
        dns_server.set(dkim.record_name(key), "TXT", f"v=DKIM1; k=rsa; p={other_public_key}")
    dns_server.set(f"_dmarc.{name}", "TXT", "v=DMARC1; rua=mailto:postmaster@" + name)
    dns_server.set(f"autoconfig.{name}", "CNAME", "autoconfig.oldhost.example.")
    dns_server.set(f"autodiscover.{name}", "CNAME")
