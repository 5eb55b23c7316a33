"""A Time Machine restore through the real Dovecot: a non-destructive merge of a day into the
live mailbox (flags, internal dates, deleted folders), idempotent, one charge."""

import datetime
from decimal import Decimal

import imapclient
import pytest
from django.core import mail
from django.utils import timezone, translation

from billing.models import LedgerEvent, PriceList
from domains.models import Mailbox
from mailstore.services import quota_override_set
from snapshots.models import RestoreRequest, RestoreState
from snapshots.restore import RestoreWhat, restore_preview, restore_request_create, restore_run
from snapshots.services import snapshot_take
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol

BASE_DATE = datetime.datetime(2025, 3, 1, 9, 0, 0)  # noqa: DTZ001 - imapclient: naive = local time


def mailbox_of(address):
    local_part, _, domain = address.partition("@")
    return Mailbox.objects.select_related("domain").get(local_part=local_part, domain__name=domain)


def imap(plane, address, password) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(plane.host, port=plane.ports["imaps"], ssl_context=plane.ssl_context())
    client.login(address, password)
    return client


def raw(address, tag, i):
    return message("a@example.net", address, subject=f"{tag} {i}").replace(
        b"Subject:", f"Message-ID: <{tag}-{i}@test>\r\nSubject:".encode(), 1
    )


def fill(client, address, folder, tag, count):
    """`count` messages with distinct internal dates; every third \\Seen, every seventh \\Flagged."""
    batch = []
    for i in range(count):
        flags = [b"\\Seen"] * (i % 3 == 0) + [b"\\Flagged"] * (i % 7 == 0) + [b"$Label1"] * (i % 11 == 0)
        batch.append(
            {"msg": raw(address, tag, i), "flags": flags, "date": BASE_DATE + datetime.timedelta(hours=i)}
        )
        if len(batch) == 250:
            client.multiappend(folder, batch)
            batch = []
    if batch:
        client.multiappend(folder, batch)


def view(client, folder) -> dict[str, tuple]:
    """Message-ID → (flags without \\Recent, internal date) of a folder."""
    client.select_folder(folder, readonly=True)
    uids = client.search(["ALL"])
    out = {}
    for _uid, data in client.fetch(
        uids, ["FLAGS", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
    ).items():
        mid = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
        assert mid not in out, f"duplicate {mid} in {folder}"
        flags = tuple(sorted(f.decode() for f in data[b"FLAGS"] if f != b"\\Recent"))
        out[mid] = (flags, data[b"INTERNALDATE"])
    return out


@pytest.fixture
def day_then_losses(running_mailplane, mailbox_factory):
    """A mailbox with 1,000 messages in INBOX and two folders (40 and 25), snapshotted today;
    then the 1,000 are deleted, both folders too, and 3 new messages arrive."""
    address, password = mailbox_factory()
    mailbox = mailbox_of(address)
    client = imap(running_mailplane, address, password)
    client.create_folder("Projects")
    client.create_folder("Projects/Old")
    fill(client, address, "INBOX", "inbox", 1000)
    fill(client, address, "Projects", "proj", 40)
    fill(client, address, "Projects/Old", "old", 25)
    before = {name: view(client, name) for name in ("INBOX", "Projects", "Projects/Old")}
    day = timezone.localdate()
    assert snapshot_take(mailbox_id=mailbox.pk, day=day).messages == 1065

    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]), silent=True)
    client.expunge()
    client.delete_folder("Projects/Old")
    client.delete_folder("Projects")
    fill(client, address, "INBOX", "new", 3)
    fill(client, address, "Sent", "sent", 2)
    client.logout()
    return address, password, mailbox, day, before


def run_request(mailbox, day, **kwargs) -> RestoreRequest:
    request = restore_request_create(
        mailbox=mailbox,
        what=RestoreWhat(day=day, scope=kwargs.pop("scope", "mailbox"), **kwargs),
        actor=mailbox.user,
        accepted_price=Decimal("0.00"),
    )
    restore_run(request_id=request.pk)
    request.refresh_from_db()
    return request


def test_restore_brings_back_messages_and_folders_with_flags_and_dates_and_adds_nothing_twice(
    running_mailplane, day_then_losses, celery_eager
):
    address, password, mailbox, day, before = day_then_losses

    plan = restore_preview(mailbox=mailbox, what=RestoreWhat(day=day, scope="mailbox"))
    assert (plan.messages, sorted(plan.folders_to_create)) == (1065, ["Projects", "Projects/Old"])
    assert plan.bytes > 0 and plan.fits_quota

    request = run_request(mailbox, day)
    assert (request.state, request.restored_messages, request.planned_messages) == ("done", 1065, 1065)
    assert sorted(request.folders_created) == ["Projects", "Projects/Old"]
    assert request.percent == 100

    client = imap(running_mailplane, address, password)
    after = {name: view(client, name) for name in ("INBOX", "Projects", "Projects/Old", "Sent")}
    # every message of the day is back once, with its flags and internal date
    for name in ("Projects", "Projects/Old"):
        assert after[name] == before[name]
    new_inbox = {mid: v for mid, v in after["INBOX"].items() if mid.startswith("<new-")}
    assert len(new_inbox) == 3  # what arrived since is kept
    assert {mid: v for mid, v in after["INBOX"].items() if not mid.startswith("<new-")} == before["INBOX"]
    assert len(after["Sent"]) == 2
    assert {"Projects", "Projects/Old"} <= {name for _f, _s, name in client.list_sub_folders()}
    client.logout()

    # the user is told
    assert [m.to for m in mail.outbox if "Time Machine" in m.subject] == [[address]]

    # a second run adds nothing
    again = run_request(mailbox, day)
    assert (again.state, again.restored_messages, again.planned_messages) == ("done", 0, 0)
    client = imap(running_mailplane, address, password)
    assert {name: view(client, name) for name in ("INBOX", "Projects", "Projects/Old", "Sent")} == after
    client.logout()


def test_a_message_moved_to_another_folder_is_not_duplicated_and_one_folder_scope(
    running_mailplane, mailbox_factory, celery_eager
):
    address, password = mailbox_factory()
    mailbox = mailbox_of(address)
    client = imap(running_mailplane, address, password)
    client.create_folder("Keep")
    fill(client, address, "INBOX", "m", 10)
    fill(client, address, "Keep", "k", 4)
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    client.select_folder("INBOX")
    uids = client.search(["ALL"])
    client.move(uids[:3], "Keep")  # still in the mailbox, elsewhere
    client.delete_messages(uids[3:5], silent=True)
    client.expunge()
    client.select_folder("Keep")
    client.delete_messages(client.search(["ALL"])[:1], silent=True)
    client.expunge()

    # one folder: only INBOX's two deleted ones come back, not the moved three, not Keep's
    request = run_request(mailbox, day, scope="folder", folder="INBOX")
    assert (request.state, request.restored_messages) == ("done", 2)
    assert len(view(client, "INBOX")) == 7 and len(view(client, "Keep")) == 6
    # selected messages: the one of Keep
    snap_keep_uids = [1, 2, 3, 4]
    request = run_request(mailbox, day, scope="messages", folder="Keep", uids=snap_keep_uids)
    assert (request.state, request.restored_messages) == ("done", 1)
    assert len(view(client, "Keep")) == 7
    client.logout()


def test_a_priced_restore_is_one_ledger_event(running_mailplane, mailbox_factory, celery_eager):
    PriceList.objects.create(
        valid_from=timezone.localdate().replace(day=1),
        **dict.fromkeys(
            [
                "mailbox_extra",
                "quota_25",
                "quota_50",
                "quota_100",
                "send_2000",
                "send_5000",
                "archive",
                "intervention",
            ],
            Decimal("1.00"),
        ),
        timemachine_restore=Decimal("35.00"),
    )
    address, _password = mailbox_factory()
    mailbox = mailbox_of(address)
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    what = RestoreWhat(day=day, scope="mailbox")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):  # not the price shown
        restore_request_create(mailbox=mailbox, what=what, actor=mailbox.user, accepted_price=Decimal("0"))
    assert (
        RestoreRequest.objects.count() == 0 and not LedgerEvent.objects.filter(kind="intervention").exists()
    )
    request = restore_request_create(
        mailbox=mailbox, what=what, actor=mailbox.user, accepted_price=Decimal("35.00")
    )
    events = LedgerEvent.objects.filter(kind="intervention")
    assert [(e.intervention, e.one_off_amount, e.target) for e in events] == [
        ("timemachine_restore", Decimal("35.00"), address)
    ]
    assert request.price == Decimal("35.00")
    request.refresh_from_db()
    assert request.state == RestoreState.DONE  # eager: queued on commit, ran


def test_a_restore_refused_by_the_quota_fails_and_counts_only_what_came_back(
    running_mailplane, mailbox_factory, celery_eager
):
    """The server's NO [OVERQUOTA] to a MULTIAPPEND stops the run (failed, the user told why);
    the refused batch is not counted as restored."""
    address, password = mailbox_factory()
    mailbox = mailbox_of(address)
    client = imap(running_mailplane, address, password)
    fill(client, address, "INBOX", "q", 300)
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]), silent=True)
    client.expunge()
    client.logout()
    quota_override_set(mailbox=mailbox, quota_bytes=20 * 1024)  # a quarter of what comes back

    with translation.override("en"):  # the error is saved in the language of the run
        request = run_request(mailbox, day)

    assert request.state == RestoreState.FAILED and "full" in request.error
    client = imap(running_mailplane, address, password)
    client.select_folder("INBOX", readonly=True)
    assert request.restored_messages == len(client.search(["ALL"])) < 300
    client.logout()
