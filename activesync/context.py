"""What a command runs with (the authenticated mailbox, its device) and a small element builder."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def source(self) -> LiveMailbox:
        return LiveMailbox(self.mailbox.address, client_ip=self.client_ip, client_name="mailsuite-activesync")

    @property
    def owner(self) -> str:
        """The IMAP pool owner: one pooled connection set per device (mailstore.pool)."""
        return f"activesync:{self.device.pk}"


def element(tag: str, text: Any = None, *children: Element | None) -> Element:
    """E("{AirSync}Status", "1"), E("{AirSync}Collection", None, child, …); None children skipped."""
    node = Element(tag)
    if text is not None:
        node.text = text if isinstance(text, bytes) else str(text)
    node.extend(child for child in children if child is not None)
    return node
