"""SendMail (MS-ASCMD 2.2.1.17): not served yet (the next step: submit through the suite's
submission server with the device's credentials, counted against the send limit, a copy in
Sent). Answers Status 110 (server error, the device keeps the message in its outbox)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.context import Context, element

C = "{ComposeMail}"


def send_mail(context: Context, document: Element | None) -> Element:
    return element(f"{C}SendMail", None, element(f"{C}Status", 110))
