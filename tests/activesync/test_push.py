"""Ping pushed by new mail: the ASGI application (mailsuite.asgi) under a real uvicorn, a
message sent to the real MX (smtplib), Dovecot behind both; the MX's delivery publishes on the
mailbox's Redis channel (mailstore.newmail) and the waiting Ping answers."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import redis
import uvicorn
from django.conf import settings

from tests.activesync.phone import A, F, LiveClient, Phone, commands_of
from tests.protocol.helpers import message

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]


@pytest.fixture(scope="module")
def asgi_server():
    from mailsuite.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def push(settings):
    """Plain HTTP to the loopback uvicorn, a short heartbeat allowed, and channels of this test
    only (the Redis is shared with other runs)."""
    settings.ACTIVESYNC_ALLOW_PLAIN_HTTP = True
    settings.ACTIVESYNC_HEARTBEAT_MIN = 1
    settings.NEWMAIL_CHANNEL_PREFIX = f"test:{uuid.uuid4().hex}:eas:mailbox:"
    return settings


def _ping(phone: Phone, inbox: str, heartbeat: int):
    answer = phone.command(
        "Ping",
        f'<Ping xmlns="Ping:"><HeartbeatInterval>{heartbeat}</HeartbeatInterval><Folders><Folder>'
        f"<Id>{inbox}</Id><Class>Email</Class></Folder></Folders></Ping>",
    )
    return answer.findtext("{Ping}Status"), [f.text for f in answer.findall("{Ping}Folders/{Ping}Folder")]


def _wait_for_subscriber(channel: str) -> None:
    client = redis.Redis.from_url(settings.NEWMAIL_REDIS_URL)
    for _ in range(200):
        if dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"no Ping subscribed to {channel}")


def test_a_waiting_ping_is_woken_by_mail_through_the_mx_then_sync_returns_it(
    asgi_server, push, running_mailplane, smtpd, mailbox_factory
):
    from domains.models import Mailbox
    from mailstore.newmail import channel

    address, password = mailbox_factory()
    mailbox = Mailbox.objects.get(local_part=address.split("@")[0], domain__name=address.split("@")[1])
    phone, inbox, key = _ready_phone(asgi_server, address, password, Phone.device_id)

    # nothing arrives: the heartbeat ends with Status 1
    assert _ping(phone, inbox, 1) == ("1", [])

    # a Ping with a long heartbeat waits; a message to the MX wakes it (Status 2, the folder)
    result: dict = {}

    def waiting_ping():
        result["answer"] = _ping(phone, inbox, 30)
        result["at"] = time.monotonic()

    pinger = threading.Thread(target=waiting_ping, daemon=True)
    pinger.start()
    _wait_for_subscriber(channel(mailbox.pk))
    sent = time.monotonic()
    with smtpd.mx() as client:
        client.sendmail(
            "sender@example.net", [address], message("sender@example.net", address, subject="pushed")
        )
    pinger.join(60)
    assert result["answer"] == ("2", [inbox])
    # an upper bound only, far below the heartbeat (30 s): the bench measures the latency
    assert result["at"] - sent < 5

    # the next Sync returns the message
    collection = phone.sync(inbox, key)
    adds = commands_of(collection, "Add")
    assert [add.findtext(f"{A}ApplicationData/{{Email}}Subject") for add in adds] == ["pushed"]


def _ready_phone(server, address: str, password: str, device_id: str) -> tuple[Phone, str, str]:
    """A provisioned phone that synced its INBOX: (phone, INBOX's id, its sync key)."""
    phone = Phone(address, password, device_id=device_id, client=LiveClient(*server))
    phone.provision()
    inbox = phone.inbox_id()
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    key = phone.sync(inbox, key).findtext(f"{A}SyncKey")
    return phone, inbox, key


def _in_threads(function, items: list) -> list:
    """function(item) for every item at once, each in a thread of its own; the results in order."""
    results: list = [None] * len(items)
    errors: list = []

    def run(n: int) -> None:
        try:
            results[n] = function(items[n])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]
    return results


def test_mail_through_the_mx_wakes_exactly_the_pings_of_its_mailbox(
    asgi_server, push, running_mailplane, smtpd, mailbox_factory
):
    from domains.models import Mailbox
    from mailstore.newmail import channel

    first, second = mailbox_factory(), mailbox_factory()
    ids = [
        Mailbox.objects.get(local_part=a.split("@")[0], domain__name=a.split("@")[1]).pk
        for a, _ in (first, second)
    ]
    # three phones of the first mailbox, two of the second, all waiting at once
    phones = [_ready_phone(asgi_server, *first, f"ApplFIRST{n}") for n in range(3)]
    phones += [_ready_phone(asgi_server, *second, f"ApplSECOND{n}") for n in range(2)]
    answers: dict[int, tuple] = {}

    def waiting_ping(n: int) -> None:
        phone, inbox, _key = phones[n]
        # the second mailbox's Pings end at a short heartbeat, unless something wakes them
        answers[n] = _ping(phone, inbox, 30 if n < 3 else 6)

    pingers = [threading.Thread(target=waiting_ping, args=(n,), daemon=True) for n in range(5)]
    for pinger in pingers:
        pinger.start()
    _wait_for_subscriber(channel(ids[0]))
    _wait_for_subscriber(channel(ids[1]))
    with smtpd.mx() as client:
        client.sendmail(
            "sender@example.net", [first[0]], message("sender@example.net", first[0], subject="for the first")
        )
    for pinger in pingers[:3]:
        pinger.join(25)  # far below their heartbeat (30 s): woken, not expired
    assert [answers.get(n) for n in range(3)] == [("2", [phones[n][1]]) for n in range(3)]
    for pinger in pingers[3:]:
        pinger.join(30)
    # the second mailbox's phones were not woken: their heartbeat ended, nothing changed
    assert [answers.get(n) for n in (3, 4)] == [("1", []), ("1", [])]

    # each of the first mailbox's phones gets the message at its next Sync
    for phone, inbox, key in phones[:3]:
        adds = commands_of(phone.sync(inbox, key), "Add")
        assert [add.findtext(f"{A}ApplicationData/{{Email}}Subject") for add in adds] == ["for the first"]


def test_phones_of_a_new_mailbox_syncing_at_once_then_ping_without_a_change(
    asgi_server, push, running_mailplane, mailbox_factory
):
    """Several phones of one new mailbox make their first FolderSync and Sync at the same
    moment (Dovecot creates the INBOX's indexes under them): nothing changes afterwards, so
    each one's Ping ends at its heartbeat with Status 1, not Status 2."""
    phones = []
    for m in range(3):
        address, password = mailbox_factory()
        for d in range(5):
            phone = Phone(address, password, device_id=f"ApplNEW{m}D{d}", client=LiveClient(*asgi_server))
            phone.provision()
            phones.append(phone)
    barrier = threading.Barrier(len(phones))

    def first_sync(phone: Phone) -> str:
        barrier.wait(30)
        inbox = next(
            add.findtext(f"{F}ServerId")
            for add in phone.folder_sync().iter(f"{F}Add")
            if add.findtext(f"{F}Type") == "2"
        )
        key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
        return inbox, phone.sync(inbox, key).findtext(f"{A}Status")

    synced = _in_threads(first_sync, phones)
    pings = _in_threads(lambda n: _ping(phones[n], synced[n][0], 2), list(range(len(phones))))
    assert pings == [("1", [])] * len(phones)
    assert [status for _inbox, status in synced] == ["1"] * len(phones)


def test_a_phone_s_own_changes_do_not_wake_its_ping_but_wake_the_other_phones(
    asgi_server, push, running_mailplane, smtpd, mailbox_factory
):
    address, password = mailbox_factory()
    with smtpd.mx() as client:
        for subject in ("one", "two"):
            client.sendmail(
                "sender@example.net", [address], message("sender@example.net", address, subject=subject)
            )
    mine, inbox, _key = _ready_phone(asgi_server, address, password, "ApplMINE")
    other, other_inbox, other_key = _ready_phone(asgi_server, address, password, "ApplOTHER")
    # the first phone starts over to learn the messages' ids
    key = mine.sync(inbox, "0").findtext(f"{A}SyncKey")
    collection = mine.sync(inbox, key)
    key = collection.findtext(f"{A}SyncKey")
    ids = {
        add.findtext(f"{A}ApplicationData/{{Email}}Subject"): add.findtext(f"{A}ServerId")
        for add in commands_of(collection, "Add")
    }
    assert set(ids) == {"one", "two"}

    # it marks "one" read and flags "two"
    collection = mine.sync(
        inbox,
        key,
        commands=f"<Change><ServerId>{ids['one']}</ServerId><ApplicationData><email:Read>1</email:Read>"
        f"</ApplicationData></Change><Change><ServerId>{ids['two']}</ServerId><ApplicationData>"
        "<email:Flag><email:FlagStatus>2</email:FlagStatus></email:Flag></ApplicationData></Change>",
    )
    assert collection.findtext(f"{A}Status") == "1" and commands_of(collection, "Change") == []
    # its own changes are no news to it; they are to the other phone, until it synced them
    assert _ping(mine, inbox, 2) == ("1", [])
    assert _ping(other, other_inbox, 2) == ("2", [other_inbox])
    changes = commands_of(other.sync(other_inbox, other_key), "Change")
    assert len(changes) == 2
    assert _ping(other, other_inbox, 2) == ("1", [])
    assert _ping(mine, inbox, 2) == ("1", [])
