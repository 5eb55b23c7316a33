"""The webmail is bound by the submission server's From rule (issue 9, item 2)."""

import pytest
from django.utils import translation

from mta.models import TracemailEntry
from webmail import compose, submission
from webmail.views.auth import TOKEN_KEY

from .test_compose import new_compose


def test_a_forged_from_on_the_send_path_gets_a_clear_error_and_nothing_leaves(webmail_user, monkeypatch):
    # given a compose path that (through some bug) builds a message with someone else's From
    alice = webmail_user()
    real_build = compose.build

    def forged_build(request, state, draft, *, for_draft):
        msg = real_build(request, state, draft, for_draft=for_draft)
        del msg["From"]
        msg["From"] = "CEO <ceo@bank.example>"
        return msg

    monkeypatch.setattr(compose, "build", forged_build)
    url = new_compose(alice.client)
    # when she sends
    response = alice.client.post(
        url, {"action": "send", "to": "someone@far.example", "subject": "Invoice", "body": "Pay"}
    )
    # then a clear error, naming her own address and the refused one; nothing sent or queued
    page = response.content.decode()
    assert response.status_code == 400
    assert "data-send-error" in page
    assert alice.address in page and "ceo@bank.example" in page and "553 5.7.1" in page
    assert alice.uids("Sent") == []
    assert (
        not TracemailEntry.objects.filter(recipient="someone@far.example").exclude(status="rejected").exists()
    )


def test_the_server_refusal_of_a_forged_from_is_explained(webmail_user):
    # The server's own 553 5.7.1 (a webmail that skipped the check) reads clearly too.
    code, reply = 553, "553 5.7.1 From <ceo@bank.example> is not an address this mailbox may send as"
    with translation.override("en"):
        assert submission.explain(code, reply) == (
            "The sender of this message is not an address you may send as."
        )
    with translation.override("it"):
        assert submission.explain(code, reply) == (
            "Il mittente di questo messaggio non è un indirizzo da cui puoi inviare."
        )


@pytest.mark.parametrize(
    "sender_header",
    [
        "From: ceo@bank.example",
        "From: {me}\r\nFrom: ceo@bank.example",
        "From: {me}\r\nSender: x@bank.example",
    ],
)
def test_send_refuses_a_foreign_author_before_connecting(webmail_user, sender_header, settings):
    alice = webmail_user()
    settings.MAIL_PORTS = dict(settings.MAIL_PORTS, submission=1)  # nothing listens: not contacted
    data = (
        sender_header.format(me=alice.address) + "\r\nTo: x@far.example\r\nSubject: s\r\n\r\nb\r\n"
    ).encode()
    with pytest.raises(submission.SendRefused) as refused:
        submission.send(
            login=alice.address, token="t", sender=alice.address, recipients=["x@far.example"], data=data
        )
    assert not refused.value.temporary
    assert refused.value.reply.startswith("553 5.7.1 ")


def test_the_normal_compose_path_still_sends(webmail_user):
    alice = webmail_user()
    url = new_compose(alice.client)
    response = alice.client.post(url, {"action": "send", "to": alice.address, "subject": "Me", "body": "hi"})
    assert response.status_code == 302
    assert TOKEN_KEY in alice.client.session
