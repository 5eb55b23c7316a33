"""Compose with hostile input: headers copied from a received message and typed by the user
never put a line break into the message being written (no 500, no injected header)."""

from tests.webmail.test_compose import fetch, new_compose, wait_for


def test_reply_in_a_thread_with_folded_references_is_saved_and_sent(webmail_user):
    # given a message whose References header is folded over three lines (long threads are)
    alice, bob = webmail_user(), webmail_user()
    raw = (
        f"From: Bob <{bob.address}>\r\nTo: {alice.address}\r\nSubject: long\r\n thread\r\n"
        "Message-ID: <m1@x.test>\r\nReferences: <r1@x.test>\r\n <r2@x.test>\r\n\t<r3@x.test>\r\n"
        "In-Reply-To: <r3@x.test>\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    ).encode()
    uid = alice.append(raw)
    # when alice replies: the draft is autosaved, then sent
    url = new_compose(alice.client, f="INBOX", reply=uid)
    fields = {"to": bob.address, "cc": "", "bcc": "", "subject": "Re: long thread", "body": "ok"}
    autosave = alice.client.post(url + "autosave/", fields)
    sent = alice.client.post(url, {**fields, "action": "send"})
    # then both work, and bob's copy threads under the original on one-line headers
    assert autosave.status_code == 200 and autosave.json()["draft_uid"] == 1
    assert sent.status_code == 302
    uids = wait_for(lambda: bob.uids("INBOX"))
    received = fetch(bob, "INBOX", uids[0])
    assert received["In-Reply-To"] == "<m1@x.test>"
    assert received["References"] == "<r1@x.test> <r2@x.test> <r3@x.test> <m1@x.test>"


def test_carriage_return_in_a_recipient_is_an_invalid_address_not_a_header(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    fields = {
        "to": f"Bob\rBcc: evil@evil.test <{bob.address}>",
        "cc": "",
        "bcc": "",
        "subject": "s",
        "body": "b",
    }

    autosave = alice.client.post(url + "autosave/", fields)
    sent = alice.client.post(url, {**fields, "action": "send"})

    assert autosave.status_code == 200
    assert sent.status_code == 400
    assert "Indirizzo non valido: Bob" in sent.content.decode()  # Italian by default
    assert bob.uids("INBOX") == []


def test_line_break_in_the_display_name_does_not_break_sending(webmail_user):
    # given a display name with a line break (a crafted settings POST)
    alice, bob = webmail_user(), webmail_user()
    from webmail.services import preferences_update

    preferences_update(user=_user(alice), display_name="Alice\r\nBcc: evil@evil.test")
    url = new_compose(alice.client)
    fields = {"to": bob.address, "cc": "", "bcc": "", "subject": "s", "body": "b", "action": "send"}
    # when she sends, then it goes out with the name on one line and no extra header
    assert alice.client.post(url, fields).status_code == 302
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    assert received["From"] == f'"Alice Bcc: evil@evil.test" <{alice.address}>'
    assert received["Bcc"] is None


def _user(webmail_user_obj):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=webmail_user_obj.address)


def test_forward_of_an_attachment_named_with_a_line_break_is_sent(webmail_user):
    from tests.webmail.test_hostile_more import attachment_message

    # given a message whose attachment name carries CR LF (RFC 2231 encoding allows it)
    alice, bob = webmail_user(), webmail_user()
    uid = alice.append(attachment_message(b"filename*=UTF-8''a%0D%0AX-Evil%3A%201%22%3B%20b.txt"))
    # when alice forwards it (autosaved, then sent)
    url = new_compose(alice.client, f="INBOX", forward=uid)
    fields = {"to": bob.address, "cc": "", "bcc": "", "subject": "Fwd", "body": "see"}
    autosave = alice.client.post(url + "autosave/", fields)
    sent = alice.client.post(url, {**fields, "action": "send"})
    # then both work, and bob gets the file under a one-line name and no injected header
    assert (autosave.status_code, sent.status_code) == (200, 302)
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    files = {p.get_filename(): p.get_payload(decode=True) for p in received.walk() if p.get_filename()}
    assert files == {'a__X-Evil: 1"; b.txt': b"hello"}
    assert received["X-Evil"] is None
