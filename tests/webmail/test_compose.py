"""Compose, send through the project's submission server, reply threading, drafts, refusals."""

import email
import re
import time

from accounts.models import AppPassword
from mta.models import TracemailEntry


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def new_compose(client, **params) -> str:
    response = client.get("/webmail/compose/", params)
    assert response.status_code == 302
    return response["Location"]


def fetch(user, folder, uid) -> email.message.Message:
    with user.imap() as imap:
        imap.select_folder(folder, readonly=True)
        return email.message_from_bytes(imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])


def test_send_with_attachment_is_delivered_copied_to_sent_and_traced(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    upload = alice.client.post(
        url + "upload/", {"file": _file("report.txt", b"numbers 1 2 3")}, HTTP_ACCEPT="application/json"
    )
    assert upload.status_code == 200 and upload.json()["attachments"][0]["name"] == "report.txt"
    response = alice.client.post(
        url,
        {
            "action": "send",
            "to": f"Bob <{bob.address}>",
            "cc": "",
            "bcc": "",
            "subject": "Quarterly",
            "body": "Here it is.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # bob receives it, with the attachment
    uids = wait_for(lambda: bob.uids("INBOX"))
    assert len(uids) == 1
    received = fetch(bob, "INBOX", uids[0])
    assert received["Subject"] == "Quarterly" and received["To"] == f"Bob <{bob.address}>"
    parts = {p.get_filename(): p.get_payload(decode=True) for p in received.walk() if p.get_filename()}
    assert parts == {"report.txt": b"numbers 1 2 3"}
    # a copy in alice's Sent, marked read; Tracemail has the message
    sent = alice.uids("Sent")
    assert len(sent) == 1 and fetch(alice, "Sent", sent[0])["Message-ID"] == received["Message-ID"]
    assert TracemailEntry.objects.filter(recipient=bob.address).exists()
    # the recipient becomes a suggestion (before the directory of alice's domain)
    assert alice.client.get("/webmail/compose/suggest/", {"q": bob.address[:4]}).json()["results"][0] == {
        "name": "Bob",
        "address": bob.address,
        "source": "recent",
    }
    # the webmail's session token exists, hidden from the app-password page, revoked at logout
    token = AppPassword.objects.get(user__username=alice.address)
    assert token.name.startswith("webmail session") and token.last_used_at is not None
    assert "webmail session" not in alice.client.get("/webmail/settings/app-passwords/").content.decode()
    alice.client.post("/webmail/logout/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def _file(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_reply_threads_with_in_reply_to_and_references(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client, to=bob.address)
    alice.client.post(url, {"action": "send", "to": bob.address, "subject": "Plan", "body": "Shall we?"})
    uid = wait_for(lambda: bob.uids("INBOX"))[0]
    original = fetch(bob, "INBOX", uid)
    # bob replies from the webmail
    reply_url = new_compose(bob.client, f="INBOX", reply=uid)
    page = bob.client.get(reply_url).content.decode()
    assert 'value="Re: Plan"' in page and "&gt; Shall we?" in page and alice.address in page
    response = bob.client.post(
        reply_url,
        {"action": "send", "to": alice.address, "subject": "Re: Plan", "body": "Yes.\n\n> Shall we?"},
    )
    assert response.status_code == 302
    reply_uid = wait_for(lambda: [u for u in alice.uids("INBOX")])[0]
    reply = fetch(alice, "INBOX", reply_uid)
    assert reply["In-Reply-To"] == original["Message-ID"]
    assert reply["References"] == original["Message-ID"]
    with bob.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert b"\\Answered" in imap.get_flags([uid])[uid]


def test_draft_is_saved_and_survives_a_reload(webmail_user):
    alice = webmail_user()
    url = new_compose(alice.client)
    saved = alice.client.post(
        url + "autosave/", {"to": "someone@example.test", "subject": "Half done", "body": "first line"}
    )
    assert saved.status_code == 200
    first = saved.json()["draft_uid"]
    saved = alice.client.post(
        url + "autosave/",
        {"to": "someone@example.test", "subject": "Half done", "body": "first line\nsecond line"},
    )
    # one draft only: the previous version is replaced
    assert alice.uids("Drafts") == [saved.json()["draft_uid"]] and saved.json()["draft_uid"] != first
    page = alice.client.get(url).content.decode()
    assert 'value="Half done"' in page and "first line\nsecond line</textarea>" in page
    # reopened from the Drafts folder, in a new compose window
    reopened = new_compose(alice.client, f="Drafts", draft=saved.json()["draft_uid"])
    assert "first line\nsecond line</textarea>" in alice.client.get(reopened).content.decode()


def test_invalid_addresses_are_refused_before_sending(webmail_user):
    alice = webmail_user()
    url = new_compose(alice.client)
    response = alice.client.post(
        url, {"action": "send", "to": "not-an-address, ok@example.test", "subject": "x", "body": "y"}
    )
    assert response.status_code == 400 and "not-an-address" in response.content.decode()
    assert alice.uids("Sent") == []


def test_refused_send_shows_the_server_reason_in_the_users_language(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    missing = "nobody@" + bob.address.split("@")[1]
    url = new_compose(alice.client)
    response = alice.client.post(url, {"action": "send", "to": missing, "subject": "x", "body": "y"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "data-send-error" in page and "550 5.1.1" in page and missing in page
    assert alice.uids("Sent") == []


def test_forward_carries_the_attachments(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    raw = (
        b"From: c@example.test\r\nTo: x@example.test\r\nSubject: Doc\r\nMessage-ID: <doc@example.test>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
        b'--XX\r\nContent-Type: application/pdf; name="d.pdf"\r\nContent-Disposition: attachment;'
        b' filename="d.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n'
    )
    uid = alice.append(raw)
    url = new_compose(alice.client, f="INBOX", forward=uid)
    page = alice.client.get(url).content.decode()
    assert 'value="Fwd: Doc"' in page and "d.pdf" in page
    alice.client.post(url, {"action": "send", "to": bob.address, "subject": "Fwd: Doc", "body": "fyi"})
    got = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    assert [p.get_filename() for p in got.walk() if p.get_filename()] == ["d.pdf"]
    assert got["References"] == "<doc@example.test>"
    assert re.search(r"Fwd: Doc", got["Subject"])


def test_a_mailbox_whose_outgoing_mail_is_held_is_told_so_when_composing(webmail_user):
    """The outbound scan held the mailbox: the compose page says why mail to the outside will be
    refused, before the user writes it; a mailbox not held sees nothing of it."""
    from domains.models import Mailbox
    from domains.services import mailbox_sending_hold

    held, free = webmail_user(), webmail_user()
    local, domain = held.address.split("@")
    mailbox = Mailbox.objects.get(local_part=local, domain__name=domain)
    assert mailbox_sending_hold(mailbox_id=mailbox.pk, reason="spam", score=15.0, symbols=[], subject="x")
    page = held.client.get(new_compose(held.client)).content.decode()
    assert "data-sending-held" in page and "postmaster" in page
    assert "data-sending-held" not in free.client.get(new_compose(free.client)).content.decode()
