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
    phone = Phone(address, password, client=LiveClient(*asgi_server))
    phone.provision()
    inbox = next(
        add.findtext(f"{F}ServerId")
        for add in phone.folder_sync().iter(f"{F}Add")
        if add.findtext(f"{F}Type") == "2"
    )
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    key = phone.sync(inbox, key).findtext(f"{A}SyncKey")

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
