"""The webmail's shell on every page (folder tree with unread counts, quota meter, the INBOX's
unread count in the tab title), the reading pane's fragment, the print view, conversations
(THREAD=REFERENCES through mailstore) and their switch, and the folder tree's cache."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from mailstore.imap import LiveMailbox
from mailstore.models import QuotaUsage
from mailstore.reader import mail_session
from tests.webmail.conftest import message
from webmail.models import Preferences

pytestmark = pytest.mark.django_db(transaction=True)


def title(response) -> str:
    return re.search(rb"<title>(.*?)</title>", response.content, re.S).group(1).decode()


def rows(response) -> list[str]:
    return re.findall(r'<li class="(wm-row[^"]*)"', response.content.decode())


def conversation(user, subject: str = "Cena", replies: int = 2) -> list[int]:
    """A message and `replies` answers to it (In-Reply-To, References)."""
    first = f"<{subject.lower()}-0@example.test>"
    uids = [user.append(message(subject=subject, body="Ci vediamo?", headers={"Message-ID": first}))]
    for i in range(1, replies + 1):
        headers = {
            "Message-ID": f"<{subject.lower()}-{i}@example.test>",
            "In-Reply-To": first,
            "References": first,
        }
        uids.append(user.append(message(subject=f"Re: {subject}", body=f"Risposta {i}", headers=headers)))
    return uids


def test_every_page_shows_folders_unread_counts_quota_and_the_inbox_count_in_the_title(webmail_user):
    user = webmail_user()
    uid = user.append(message(subject="Primo"))
    user.append(message(subject="Secondo"))
    with user.imap() as imap:
        imap.create_folder("Lavoro")
    user.append(message(subject="Terzo"), folder="Lavoro")
    # Dovecot's quota_clone writes the real usage when its sessions end: wait for that write, or it
    # can land after ours and the meter reads 0.
    deadline = time.monotonic() + 10
    while not QuotaUsage.objects.filter(username=user.address, messages=3).exists():
        assert time.monotonic() < deadline, "quota_clone never wrote the usage"
        time.sleep(0.05)
    QuotaUsage.objects.update_or_create(username=user.address, defaults={"bytes": 3 * 1024**3, "messages": 3})
    for url in [
        "/webmail/",
        "/webmail/mail/?f=Lavoro",
        "/webmail/folders/",
        "/webmail/compose/",
        "/webmail/settings/",
        "/webmail/settings/vacation/",
    ]:
        response = user.client.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'class="wm-folders"' in html and 'data-folder="Lavoro"' in html, url
        assert 'data-unseen="2">2</span>' in html, url  # INBOX's two unread
        assert 'data-unseen="1">1</span>' in html, url  # Lavoro's one
        meter = re.search(r'<progress id="wm-quota" max="100" value="(\d+)"', html)
        assert meter.group(1) in ("12", "38"), url  # 3 GB of the 8 or 25 GB tier
        assert title(response).startswith("(2) "), (url, title(response))
    # the message page too; reading it leaves one unread (the cached tree is forgotten)
    response = user.client.get(f"/webmail/message/{uid}/?f=INBOX")
    assert response.status_code == 200 and title(response).startswith("(1) Primo")
    assert 'aria-current="page"><span class="label">Posta in arrivo' in response.content.decode()
    response = user.client.get("/webmail/settings/")
    assert title(response).startswith("(1) ")


def test_the_unread_count_follows_changes_made_elsewhere_in_the_listed_folder(webmail_user):
    user = webmail_user()
    user.append(message(subject="Uno"))
    assert title(user.client.get("/webmail/")).startswith("(1) ")
    # new mail arrives (not through the webmail): the list sees its folder grew, and recounts
    user.append(message(subject="Due"))
    response = user.client.get("/webmail/")
    assert title(response).startswith("(2) ") and len(rows(response)) == 2
    # marking read through the webmail (another request) forgets the cached counts
    user.client.post("/webmail/mail/actions/", {"f": "INBOX", "action": "read", "uid": user.uids()})
    assert not title(user.client.get("/webmail/settings/")).startswith("(")


def test_the_reading_pane_gets_the_message_alone(webmail_user):
    user = webmail_user()
    uid = user.append(message(subject="Nel riquadro", body="Testo del riquadro"))
    response = user.client.get(f"/webmail/message/{uid}/?f=INBOX&pane=1")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Testo del riquadro" in html and 'data-title="Nel riquadro"' in html
    assert "<html" not in html and "wm-folders" not in html and "<script" not in html
    with user.imap() as imap:  # opened in the pane is read, as on its page
        imap.select_folder("INBOX", readonly=True)
        assert b"\\Seen" in imap.get_flags([uid])[uid]
    # the list page has the pane beside the list; without JavaScript the rows link the page
    listing = user.client.get("/webmail/").content.decode()
    assert "data-pane" in listing and f'href="/webmail/message/{uid}/?f=INBOX"' in listing


def test_print_view_is_the_message_alone_without_scripts_or_remote_requests(webmail_user):
    user = webmail_user()
    uid = user.append(
        message(
            subject="Da stampare",
            headers={"Content-Type": "text/html; charset=utf-8"},
            body='<p>Fattura <b>42</b></p><img src="https://tracker.example/p.gif"><script>alert(1)</script>',
        )
    )
    response = user.client.get(f"/webmail/message/{uid}/print/?f=INBOX")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Da stampare" in html and "<b>42</b>" in html
    assert "<script" not in html and "tracker.example" not in html and "wm-nav" not in html
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert (
        f"/webmail/message/{uid}/print/?f=INBOX"
        in user.client.get(f"/webmail/message/{uid}/?f=INBOX").content.decode()
    )


def test_thread_rows_collapse_with_a_count_and_open_as_a_conversation(webmail_user):
    user = webmail_user()
    uids = conversation(user, "Cena", replies=2)
    single = user.append(message(subject="Altro argomento"))
    response = user.client.get("/webmail/")
    html = response.content.decode()
    assert rows(response) == ["wm-row unread", "wm-row unread thread"]  # newest first
    assert f'value="{",".join(map(str, uids))}"' in html
    assert '<span class="wm-thread-count"' in html and f'href="/webmail/thread/{uids[-1]}/?f=INBOX"' in html
    assert f'href="/webmail/message/{single}/?f=INBOX"' in html
    # opening the conversation shows its three messages, oldest first, and reads them
    page = user.client.get(f"/webmail/thread/{uids[0]}/?f=INBOX")
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("Ci vediamo?") < text.index("Risposta 1") < text.index("Risposta 2")
    assert text.count('class="wm-thread-msg unread"') == 3
    with user.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        flags = imap.get_flags(uids + [single])
    assert all(b"\\Seen" in flags[u] for u in uids) and b"\\Seen" not in flags[single]
    # selecting the conversation's row acts on all of its messages
    user.client.post(
        "/webmail/mail/actions/", {"f": "INBOX", "action": "unread", "uid": ",".join(map(str, uids))}
    )
    with user.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert not any(b"\\Seen" in f for f in imap.get_flags(uids).values())


def test_conversations_can_be_switched_off_per_user(webmail_user):
    user, other = webmail_user(), webmail_user()
    conversation(user)
    conversation(other)
    response = user.client.post(
        "/webmail/settings/conversations/", {"threaded": "0", "next": "/webmail/?x=1"}
    )
    assert response.status_code == 302 and response["Location"] == "/webmail/?x=1"
    assert Preferences.objects.get(user__username=user.address).threaded is False
    assert len(rows(user.client.get("/webmail/"))) == 3  # one row per message
    assert len(rows(other.client.get("/webmail/"))) == 1  # someone else's switch is theirs
    # an outside address is not followed
    response = user.client.post(
        "/webmail/settings/conversations/", {"threaded": "1", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/webmail/"
    assert len(rows(user.client.get("/webmail/"))) == 1
    # sorted by anything else than the newest first, the list is one row per message
    assert len(rows(user.client.get("/webmail/mail/?f=INBOX&sort=subject"))) == 3


def test_the_switch_needs_a_login_and_a_post(webmail_user):
    user = webmail_user()
    anonymous = Client()
    response = anonymous.post("/webmail/settings/conversations/", {"threaded": "0"})
    assert response.status_code == 302 and response["Location"].startswith("/webmail/login/")
    assert user.client.get("/webmail/settings/conversations/").status_code == 405
    assert not Preferences.objects.filter(threaded=False).exists()


def test_mailstore_threads_through_the_live_mailbox(webmail_user):
    user = webmail_user()
    uids = conversation(user, "Viaggio", replies=3)
    lone = user.append(message(subject="Solo"))
    with mail_session(LiveMailbox(user.address)) as mail:
        page = mail.thread_page("INBOX", per_page=1)
        assert [t.uids for t in page.threads] == [[lone]] and page.total == 2 and page.pages == 2
        page = mail.thread_page("INBOX", page=2, per_page=1)
        assert [t.uids for t in page.threads] == [uids] and page.threads[0].unseen == 4
        assert page.messages == 5
        assert page.items[0].uid == uids[-1]
        assert mail.thread_of("INBOX", uids[1]) == uids
        raws = mail.messages_raw("INBOX", uids[:2], mark_seen=True)
        assert [r.uid for r in raws] == uids[:2] and all(b"\\Seen" not in r.flags for r in raws)
        assert mail.thread_page("INBOX", page=2, per_page=1).threads[0].unseen == 2
