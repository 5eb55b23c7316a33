"""Every link in every email the suite sends works in production (issue 10, item 5).

Production host settings: each portal on a host of its own (MAILSUITE_HOST_<PORTAL>), HTTPS,
DEBUG off, MAILSUITE_PUBLIC_BASE_URL as docs/production.env.example sets it. For each email:
every link is requested with the test client on the link's own host (secure); it must answer 200,
or a redirect to the login page of the same portal on the same host (which answers 200). Each
email must carry its link (the page the reader needs next)."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from core.portals import REGISTRY
from domains import services
from domains.services.quota_warnings import quota_warning_record
from monitor import notices
from tests.billing.conftest import price_list  # noqa: F401 - fixture
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory

pytestmark = pytest.mark.django_db

HOSTS = {spec.name: f"{spec.name}.example.test" for spec in REGISTRY}
PORTAL_OF_HOST = {host: name for name, host in HOSTS.items()}
LINK = re.compile(r"https?://[^\s<>\"')\]]+")


@pytest.fixture(autouse=True)
def production_hosts(settings):
    settings.PORTAL_HOSTS = dict(HOSTS)
    settings.ALLOWED_HOSTS = list(HOSTS.values())
    settings.PUBLIC_BASE_URL = "https://mailadmin.example.test"  # as in docs/production.env.example
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True


def links_of(message) -> list[str]:
    return LINK.findall(message.body)


def assert_link_works(link: str, *, portal: str) -> None:
    """The link is on `portal`'s own host and answers 200 or a login redirect there."""
    parts = urlsplit(link)
    assert parts.scheme == "https", link
    assert parts.hostname == HOSTS[portal], f"{link} is not on the {portal} host"
    client = Client()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    response = client.get(target, HTTP_HOST=parts.hostname, secure=True)
    if response.status_code == 200:
        return
    assert response.status_code == 302, f"{link} answered {response.status_code}"
    location = urlsplit(response["Location"])
    assert location.netloc in ("", parts.hostname), f"{link} redirects off its host: {response['Location']}"
    assert location.path == "/login/", f"{link} redirects to {response['Location']}, not to the login"
    login = client.get(location.path, HTTP_HOST=parts.hostname, secure=True)
    assert login.status_code == 200, f"the login page of {link} answered {login.status_code}"


def test_postmaster_credentials_link_to_the_control_panel(django_capture_on_commit_callbacks):
    # given an eligible customer
    customer = CustomerFactory(legal_rep_email="legal@links.test")
    mail.outbox.clear()

    # when a domain is registered (the credentials email leaves after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        services.domain_register(customer=customer, name="links.test")

    # then the email links the control panel on its own host, and the link works there
    [message] = mail.outbox
    links = links_of(message)
    assert links, "the email carries no link"
    for link in links:
        assert_link_works(link, portal="mailadmin")
    assert links == ["https://mailadmin.example.test/"]


def test_quota_warning_links_the_webmail(django_capture_on_commit_callbacks):
    # given a mailbox
    mailbox = MailboxFactory(local_part="full", domain=DomainFactory(name="quota-links.test"))
    mail.outbox.clear()

    # when Dovecot reports it crossed 80 %
    with django_capture_on_commit_callbacks(execute=True):
        assert quota_warning_record(username=mailbox.address, level=80) is True

    # then the warning links the webmail (where messages are deleted), and the link works there
    [message] = mail.outbox
    links = links_of(message)
    assert links, "the email carries no link"
    for link in links:
        assert_link_works(link, portal="webmail")
    assert links == ["https://webmail.example.test/"]


def test_daily_billing_notice_links_the_customer_area_monitor(price_list, django_user_model):  # noqa: F811
    # given a customer whose costs changed today (a mailbox beyond the included ones)
    staff = django_user_model.objects.create_user(username="staff-links", password="x")  # noqa: S106
    customer = CustomerFactory(site__voice_channels=1, legal_rep_email="anna@links-notice.test")
    domain = DomainFactory(customer=customer, name="links-notice.test")
    for i in range(5):
        MailboxFactory(domain=domain, local_part=f"inc{i}")
    services.mailbox_create(
        domain=domain, local_part="extra", password="Extra-Mailbox-2026", quota_tier=25, actor=staff
    )
    mail.outbox.clear()

    # when the end-of-day notices are sent
    assert notices.daily_notices_send(day=timezone.localdate())["sent"] == 1

    # then the notice links the customer area's Monitor on its own host, and the link works there
    [message] = mail.outbox
    links = links_of(message)
    assert links, "the email carries no link"
    for link in links:
        assert_link_works(link, portal="customer")
    assert links == ["https://customer.example.test/mail/monitor/"]
