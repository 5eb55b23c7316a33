"""What a command runs with (the authenticated mailbox, its device) and a small element builder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from devices.models import Device
from mailstore.imap import LiveMailbox


@dataclass
class Context:
    mailbox: Any  # domains.models.Mailbox
    device: Device
    version: str
    client_ip: str | None
    login: str
    password: str  # the credential the device sent: SendMail submits with it, as the phone would
    policy_key: str
    memo: dict[str, Any] = field(default_factory=dict)  # lookups made once per request

    @property
    def source(self) -> LiveMailbox:
        return LiveMailbox(self.mailbox.address, client_ip=self.client_ip, client_name="mailsuite-activesync")

    @property
    def owner(self) -> str:
        """The IMAP pool owner: one pooled connection set per device (mailstore.pool)."""
        return f"activesync:{self.device.pk}"

    @property
    def protocol(self) -> tuple[int, int]:
        """The protocol version the device speaks in this request, comparable: (16, 1)."""
        major, _, minor = self.version.partition(".")
        return (int(major), int(minor or 0))

    @property
    def drafts_sync(self) -> bool:
        """Protocol 16.0 and later: the device may add, change and send email in Drafts."""
        return self.protocol >= (16, 0)


# The command being run (set by activesync.commands.run). What depends on the protocol version
# deep inside a command (the Email2 elements of 16.x in every ApplicationData, whether Sync takes
# a draft) reads it here rather than through every signature from the command down.
_current: ContextVar[Context | None] = ContextVar("activesync_context", default=None)


@contextmanager
def running(context: Context) -> Iterator[Context]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current() -> Context | None:
    return _current.get()


def element(tag: str, text: Any = None, *children: Element | None) -> Element:
    """E("{AirSync}Status", "1"), E("{AirSync}Collection", None, child, …); None children skipped."""
    node = Element(tag)
    if text is not None:
        node.text = text if isinstance(text, bytes) else str(text)
    node.extend(child for child in children if child is not None)
    return node
