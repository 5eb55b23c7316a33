"""Control panel, Time Machine: the domain's restore requests and its deleted mailboxes
(restore within 15 days, refused when the address is taken). Four-client matrix for both URLs;
the restore of a deleted mailbox through the real Dovecot (mail and password back, a new
mailbox with the address starts empty)."""

import datetime

import imapclient
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from domains import services
from domains.models import DeletedMailbox, Mailbox
from snapshots.models import RestoreRequest, Snapshot
from snapshots.services import snapshot_take
from tests.factories import MailboxFactory
from tests.panel.conftest import panel_client
from tests.protocol.helpers import message


def urls(domain):
    return [
        reverse("mailadmin:restores", args=[domain.name]),
        reverse("mailadmin:deleted_mailboxes", args=[domain.name]),
    ]


@pytest.mark.django_db
def test_matrix_and_lists(world, postmaster_client, manager_client):
    mailbox = MailboxFactory(domain=world.domain, local_part="anna")
    RestoreRequest.objects.create(
        mailbox=mailbox, day=datetime.date(2026, 11, 20), scope="mailbox", state="done"
    )
    gone = MailboxFactory(domain=world.domain, local_part="gone")
    services.mailbox_delete(mailbox=gone, actor=world.postmaster.user)
    foreign_mailbox = MailboxFactory(domain=world.foreign, local_part="zed")
    RestoreRequest.objects.create(
        mailbox=foreign_mailbox,
        day=datetime.date(2026, 11, 20),
        scope="folder",
        folder="Secret",
        state="running",
    )
    services.mailbox_delete(mailbox=MailboxFactory(domain=world.foreign, local_part="zgone"), actor=None)
    target = DeletedMailbox.objects.get(local_part="gone")
    foreign_deleted = DeletedMailbox.objects.get(local_part="zgone")

    anonymous = Client()
    for url in urls(world.domain):
        answer = anonymous.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("mailadmin:login")), url
    outsiders = {
        "another customer's postmaster": panel_client(world.foreign_postmaster.user),
        "same customer, other domain's postmaster": panel_client(world.sibling_postmaster.user),
        "a mailbox of the domain": panel_client(mailbox.user),
    }
    for who, client in outsiders.items():
        for url in urls(world.domain):
            assert client.get(url).status_code == 404, (who, url)
        assert client.post(urls(world.domain)[1], {"deleted": target.pk}).status_code == 404, who
    assert DeletedMailbox.objects.get(pk=target.pk).restored_at is None  # nothing changed

    for client in (postmaster_client, manager_client):
        restores = client.get(urls(world.domain)[0])
        assert restores.status_code == 200
        assert [r.mailbox.local_part for r in restores.context["page"]] == ["anna"]
        assert "Secret" not in restores.content.decode()
        deleted = client.get(urls(world.domain)[1])
        assert deleted.status_code == 200 and [d.local_part for d in deleted.context["items"]] == ["gone"]
        # another domain's deleted mailbox is not reachable through this domain
        assert client.post(urls(world.domain)[1], {"deleted": foreign_deleted.pk}).status_code == 404
    assert DeletedMailbox.objects.get(pk=foreign_deleted.pk).restored_at is None


@pytest.mark.django_db
def test_restore_is_refused_after_15_days_and_when_the_address_is_taken(world, postmaster_client):
    gone = MailboxFactory(domain=world.domain, local_part="gone")
    services.mailbox_delete(mailbox=gone, actor=world.postmaster.user)
    deleted = DeletedMailbox.objects.get(local_part="gone")
    url = urls(world.domain)[1]

    newcomer = MailboxFactory(domain=world.domain, local_part="gone")
    answer = postmaster_client.post(url, {"deleted": deleted.pk})
    assert answer.status_code == 400
    assert (
        "now belongs to a new mailbox" in answer.content.decode()
        or "nuova casella" in answer.content.decode()
    )
    assert Mailbox.objects.get(domain=world.domain, local_part="gone").pk == newcomer.pk

    services.mailbox_delete(mailbox=newcomer, actor=None)
    DeletedMailbox.objects.filter(pk=deleted.pk).update(
        deleted_at=timezone.now() - datetime.timedelta(days=16)
    )
    assert [d.pk for d in postmaster_client.get(url).context["items"]] == [
        DeletedMailbox.objects.get(mailbox_id=newcomer.pk).pk
    ]
    assert postmaster_client.post(url, {"deleted": deleted.pk}).status_code == 404
    with translation.override("it"), pytest.raises(Exception, match="15 giorni"):
        services.mailbox_undelete(deleted=deleted, actor=None)


@pytest.mark.protocol
def test_a_deleted_mailbox_comes_back_with_its_mail_and_snapshots_and_a_new_one_started_empty(
    running_mailplane, world
):
    plane = running_mailplane
    gone = MailboxFactory(domain=world.domain, local_part="gone")

    def login(password):
        client = imapclient.IMAPClient(plane.host, port=plane.ports["imaps"], ssl_context=plane.ssl_context())
        client.login(f"gone@{world.domain.name}", password)
        return client

    client = login(gone.password_plain)
    for i in range(3):
        client.append("INBOX", message("a@example.net", gone.address, subject=f"kept {i}"))
    client.logout()
    snapshot_take(mailbox_id=gone.pk, day=timezone.localdate())
    services.mailbox_delete(mailbox=gone, actor=world.postmaster.user)
    assert not Snapshot.objects.filter(mailbox_id=gone.pk).exists()

    # a new mailbox with the address starts empty at once
    newcomer = MailboxFactory(domain=world.domain, local_part="gone", password="Another-Pass-2026")
    client = login("Another-Pass-2026")
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()
    services.mailbox_delete(mailbox=newcomer, actor=None)

    postmaster = panel_client(world.postmaster.user)
    deleted = DeletedMailbox.objects.get(mailbox_id=gone.pk)
    answer = postmaster.post(urls(world.domain)[1], {"deleted": deleted.pk})
    assert answer.status_code == 302
    back = Mailbox.objects.get(domain=world.domain, local_part="gone")
    assert back.pk == gone.pk
    assert list(Snapshot.objects.filter(mailbox=back).values_list("day", "messages")) == [
        (timezone.localdate(), 3)
    ]
    client = login(gone.password_plain)  # the same password
    assert client.select_folder("INBOX")[b"EXISTS"] == 3
    client.logout()
    assert DeletedMailbox.objects.get(pk=deleted.pk).restored_at is not None
