"""The Time Machine's restore pages over the real Dovecot: confirmation (what comes back, the
price), one charge, progress (page and JSON), recently deleted with put-back; and the four-client
authorization matrix (anonymous, another customer's mailbox, same customer without the right —
the domain's Manager and another mailbox of the same domain —, the owner) for every URL."""

from decimal import Decimal

import imapclient
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import LedgerEvent, PriceList
from monitor.notices import daily_notices_send
from portalkit.session import PORTALS_KEY
from snapshots.models import RestoreRequest
from snapshots.services import snapshot_take
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol


def tm_client(user) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[PORTALS_KEY] = ["timemachine"]
    session.save()
    return client


def imap(plane, mailbox):
    client = imapclient.IMAPClient(plane.host, port=plane.ports["imaps"], ssl_context=plane.ssl_context())
    client.login(mailbox.address, mailbox.password_plain)
    return client


def price_list(amount):
    return PriceList.objects.create(
        valid_from=timezone.localdate().replace(day=1),
        **dict.fromkeys(
            ["mailbox_extra", "quota_25", "quota_50", "quota_100", "send_2000", "send_5000", "archive"],
            Decimal("1.00"),
        ),
        intervention=Decimal("80.00"),
        timemachine_restore=Decimal(amount),
    )


@pytest.fixture
def world(running_mailplane, transactional_db, celery_eager):
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer)
    owner = MailboxFactory(domain=domain)
    neighbour = MailboxFactory(domain=domain)
    manager = ManagerFactory(customer=customer, domains=[domain])
    foreign = MailboxFactory(domain=DomainFactory(customer=CustomerFactory()))
    client = imap(running_mailplane, owner)
    client.create_folder("Projects")
    for i in range(5):
        raw = message("a@example.net", owner.address, subject=f"old {i}").replace(
            b"Subject:", f"Message-ID: <old-{i}@test>\r\nSubject:".encode(), 1
        )
        client.append("Projects" if i < 2 else "INBOX", raw, flags=[b"\\Seen"])
    day = timezone.localdate()
    snapshot_take(mailbox_id=owner.pk, day=day)
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]), silent=True)
    client.expunge()
    client.logout()
    return {"owner": owner, "neighbour": neighbour, "manager": manager, "foreign": foreign, "day": day}


def test_confirm_shows_what_comes_back_and_the_price_then_one_charge_and_progress(world):
    price_list("40.00")
    owner, day = world["owner"], world["day"]
    client = tm_client(owner.user)
    url = reverse("timemachine:restore") + f"?day={day.isoformat()}&scope=mailbox"
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert page.context["plan"].messages == 3 and page.context["plan"].fits_quota
    assert ("€ 40,00" in text or "€ 40.00" in text) and 'name="price" value="40.00"' in text
    assert (
        RestoreRequest.objects.count() == 0 and not LedgerEvent.objects.filter(kind="intervention").exists()
    )

    form = {"day": day.isoformat(), "scope": "mailbox", "folder": "", "uids": "", "price": "40.00"}
    answer = client.post(reverse("timemachine:restore"), form)
    request = RestoreRequest.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "timemachine:restore_progress", args=[request.pk]
    )
    assert [(e.one_off_amount, e.target) for e in LedgerEvent.objects.filter(kind="intervention")] == [
        (Decimal("40.00"), owner.address)
    ]
    # the charge is in the end-of-day notice (and so in the Monitor's ledger)
    assert daily_notices_send(day=timezone.localdate())["sent"] >= 1
    assert [m for m in mail.outbox if owner.address in m.body and "40" in m.body]
    status = client.get(reverse("timemachine:restore_status", args=[request.pk])).json()
    assert (status["state"], status["percent"], status["restored"]) == ("done", 100, 3)
    progress = client.get(reverse("timemachine:restore_progress", args=[request.pk]))
    assert progress.status_code == 200 and b"data-progress-url" in progress.content

    # a stale price (the list changed after the page was shown) is refused, nothing charged
    again = client.post(reverse("timemachine:restore"), {**form, "price": "10.00"})
    assert again.status_code == 400 and RestoreRequest.objects.count() == 1


def test_bad_requests_get_a_clear_error(world):
    client = tm_client(world["owner"].user)
    url = reverse("timemachine:restore")
    assert client.get(url + "?day=nope").status_code == 400
    assert client.get(url + "?day=2001-01-01").status_code == 400  # no snapshot that day
    day = world["day"].isoformat()
    assert client.get(url + f"?day={day}&scope=folder&folder=Nope").status_code == 404
    assert client.get(url + f"?day={day}&scope=folder&folder=INBOX&uids=1,x").status_code == 400
    folder = client.get(url + f"?day={day}&scope=folder&folder=Projects")
    assert folder.status_code == 200 and folder.context["plan"].messages == 0  # nothing missing there


def test_recently_deleted_page_lists_and_puts_back(world, running_mailplane):
    owner = world["owner"]
    client = tm_client(owner.user)
    page = client.get(reverse("timemachine:deleted"))
    assert page.status_code == 200
    items = page.context["items"]
    assert sorted(m.subject for m in items) == ["old 2", "old 3", "old 4"]
    back = client.post(reverse("timemachine:deleted"), {"folder": items[0].folder, "uid": items[0].uid})
    assert back.status_code == 200 and len(back.context["items"]) == 2
    assert client.post(reverse("timemachine:deleted"), {"folder": "INBOX", "uid": "999"}).status_code == 404
    imap_client = imap(running_mailplane, owner)
    imap_client.select_folder("INBOX", readonly=True)
    assert len(imap_client.search(["ALL"])) == 1
    imap_client.logout()


def test_authorization_matrix(world):
    owner, day = world["owner"], world["day"]
    request = RestoreRequest.objects.create(mailbox=owner, day=day, scope="mailbox", state="done")
    pk_urls = [
        reverse("timemachine:restore_progress", args=[request.pk]),
        reverse("timemachine:restore_status", args=[request.pk]),
    ]
    restore_url = reverse("timemachine:restore") + f"?day={day.isoformat()}&scope=mailbox"
    deleted_url = reverse("timemachine:deleted")
    login = reverse("timemachine:login")

    anonymous = Client()
    for url in [*pk_urls[:1], restore_url, deleted_url]:
        answer = anonymous.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith(login), url
    assert anonymous.get(pk_urls[1]).status_code == 403  # polled: JSON, never a login page

    # a session of another portal only is no Time Machine session
    other_portal = Client()
    other_portal.force_login(owner.user)
    assert other_portal.get(deleted_url).status_code == 302

    for who in ("foreign", "neighbour"):
        client = tm_client(world[who].user)
        for url in pk_urls:
            assert client.get(url).status_code == 404, (who, url)
        # their own mailbox only: no snapshot of theirs that day, nothing of the owner's shown
        answer = client.get(restore_url)
        assert answer.status_code == 400 and owner.address not in answer.content.decode()
        assert (
            client.post(
                restore_url.split("?")[0], {"day": day.isoformat(), "scope": "mailbox", "price": "0.00"}
            ).status_code
            == 400
        )
        deleted = client.get(deleted_url)
        assert deleted.status_code == 200 and deleted.context["items"] == []

    manager = tm_client(world["manager"].user)  # no mailbox: no Time Machine
    for url in [*pk_urls, restore_url, deleted_url]:
        assert manager.get(url).status_code == 403, url

    client = tm_client(owner.user)
    for url in [*pk_urls, restore_url, deleted_url]:
        assert client.get(url).status_code == 200, url
    assert RestoreRequest.objects.count() == 1  # nobody else made one
