"""Every Time Machine URL with four clients (anonymous, a mailbox of another domain, users of the
same customer without the right: the Manager, the domain's postmaster and another mailbox of the
same domain; and the owner): only the owner reads the owner's days, nothing leaks, nothing
changes. The URL carries a day, never a mailbox, so a day id cannot reach another mailbox."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from domains import services
from domains.models import Mailbox
from mailstore.imap import imap_session
from portalkit.session import PORTALS_KEY
from tests.factories import MANAGER_PASSWORD, MailboxFactory, ManagerFactory
from tests.timemachine.conftest import TmUser, mail, tm_login

pytestmark = pytest.mark.protocol

SECRET = "Top secret merger"
ATTACHED = (
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: "
    + SECRET.encode()
    + b"\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nsecret body\r\n"
    b'--XX\r\nContent-Type: application/pdf; name="s.pdf"\r\nContent-Disposition: attachment; '
    b'filename="s.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n'
)


def urls(day, uid=1, folder="INBOX") -> list[str]:
    d = f"/timemachine/d/{day}"
    return [
        f"{d}/?f={folder}",
        f"{d}/message/{uid}/?f={folder}",
        f"{d}/message/{uid}/body/?f={folder}",
        f"{d}/message/{uid}/part/2/?f={folder}",
        f"{d}/message/{uid}/source/?f={folder}",
        f"{d}/message/{uid}/eml/?f={folder}",
        f"{d}/export/?f={folder}&format=zip",
        f"{d}/export/?f={folder}&format=mbox",
    ]


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def world(tm_user):
    today = timezone.localdate()
    earlier = today - datetime.timedelta(days=2)
    owner = tm_user()
    owner.append(ATTACHED)
    owner.append(ATTACHED, folder="Private")
    owner.snapshot(earlier)
    owner.snapshot(today)
    # another domain's mailbox with a day of its own (today), not the earlier one
    stranger = tm_user()
    stranger.append(mail(subject="mine"))
    stranger.snapshot(today)
    # same domain, same customer
    colleague = tm_user(domain=owner.mailbox.domain)
    colleague.append(mail(subject="colleague's"))
    colleague.snapshot(today)
    postmaster = Mailbox.objects.get(domain=owner.mailbox.domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=postmaster, password="Postmaster-Pass-2026-ok", must_change=False)
    manager = ManagerFactory(customer=owner.mailbox.domain.customer, domains=[owner.mailbox.domain])
    return {
        "today": today,
        "earlier": earlier,
        "owner": owner,
        "stranger": stranger,
        "colleague": colleague,
        "postmaster": TmUser(
            address=postmaster.address,
            password="Postmaster-Pass-2026-ok",
            mailbox=postmaster,
            client=tm_login(postmaster.address, "Postmaster-Pass-2026-ok"),
        ),
        "manager": manager,
    }


def every_url(w) -> list[str]:
    return ["/timemachine/"] + [
        url for day in (w["today"], w["earlier"]) for url in urls(day) + urls(day, 1, "Private")
    ]


def test_the_owner_reads_every_url(world):
    owner = world["owner"]
    for url in every_url(world):
        response = owner.client.get(url)
        assert response.status_code == 200, url
    assert SECRET.encode() in content(owner.client.get(urls(world["today"])[5]))


def test_anonymous_is_sent_to_the_login_everywhere(world):
    anonymous = Client()
    for url in every_url(world) + ["/timemachine/d/2000-01-01/"]:
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/timemachine/login/?next="), url


@pytest.mark.parametrize("who", ["stranger", "colleague", "postmaster"])
def test_another_mailbox_reaches_none_of_the_owners_days(world, who):
    other = world[who]
    owner = world["owner"]
    with imap_session(owner.address) as imap:
        imap.select_folder("INBOX", readonly=True)
        flags_before = imap.get_flags([1])
    for url in every_url(world)[1:]:
        response = other.client.get(url)
        body = content(response)
        assert SECRET.encode() not in body and b"secret body" not in body, (who, url)
        if "/d/%s/" % world["earlier"] in url or "f=Private" in url:
            # a day they have no snapshot of, a folder their day does not have: not found
            assert response.status_code == 404, (who, url, response.status_code)
    # their own day shows their own mail, whatever the URL's day or UID
    home = other.client.get("/timemachine/").content.decode()
    assert str(world["earlier"]) not in home
    # nothing of the owner's changed
    with imap_session(owner.address) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert imap.get_flags([1]) == flags_before


def test_a_manager_of_the_same_customer_cannot_enter(world):
    client = Client()
    response = client.post(
        "/timemachine/login/", {"login": world["manager"].user.username, "password": MANAGER_PASSWORD}
    )
    assert response.status_code == 403
    # logged in to the control panel, the Time Machine still sends them to its login
    panel = Client()
    assert (
        panel.post(
            "/mailadmin/login/", {"login": world["manager"].user.username, "password": MANAGER_PASSWORD}
        ).status_code
        == 302
    )
    for url in every_url(world):
        response = panel.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/timemachine/login/"), url


def test_a_time_machine_session_without_a_mailbox_gets_403_everywhere(world):
    """The rule of every Time Machine view (timemachine_view), browsing and restore alike: a
    login that has no mailbox (a Manager) is refused, even with a Time Machine session."""
    client = Client()
    client.force_login(world["manager"].user)
    session = client.session
    session[PORTALS_KEY] = ["timemachine"]
    session.save()
    for url in every_url(world) + ["/timemachine/restore/", "/timemachine/deleted/"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert SECRET.encode() not in content(response), url


def test_a_webmail_session_is_not_a_time_machine_session(world):
    owner = world["owner"]
    client = Client()
    assert (
        client.post("/webmail/login/", {"login": owner.address, "password": owner.password}).status_code
        == 302
    )
    response = client.get(urls(world["today"])[0])
    assert response.status_code == 302 and response["Location"].startswith("/timemachine/login/")


def test_a_deactivated_mailbox_is_logged_out_and_cannot_log_in(world):
    owner = world["owner"]
    services.mailbox_update(mailbox=owner.mailbox, is_active=False)
    response = owner.client.get(urls(world["today"])[0])
    assert response.status_code == 302 and response["Location"].startswith("/timemachine/login")
    login = Client().post("/timemachine/login/", {"login": owner.address, "password": owner.password})
    assert login.status_code in (400, 403)


def test_a_domain_requiring_2fa_sends_the_login_to_enrolment(tm, mailbox_factory):
    mailbox = MailboxFactory()
    services.domain_set_require_2fa(domain=mailbox.domain, required=True)
    client = Client()
    response = client.post(
        "/timemachine/login/", {"login": mailbox.address, "password": mailbox.password_plain}
    )
    assert response.status_code == 302 and response["Location"] == "/timemachine/login/enrol/"
    response = client.get("/timemachine/")
    assert response.status_code == 302 and response["Location"].startswith("/timemachine/login/")
