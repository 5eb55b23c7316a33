"""Login, folder list, message list (SORT, search, pagination), reading."""

import re

from django.utils import translation

from accounts.models import AccessLogEntry
from mailstore.folders import SPECIAL_NAMES
from tests.webmail.conftest import message


def test_login_opens_the_inbox_with_folder_tree_and_unread_counts(webmail_user):
    # given a user with two unread messages
    user = webmail_user()
    user.append(message(subject="First"))
    user.append(message(subject="Second"))
    # when they open the webmail
    response = user.client.get("/webmail/")
    # then the inbox lists both, and the folder tree shows localized special folders with counts
    page = response.content.decode()
    assert response.status_code == 200
    assert "First" in page and "Second" in page
    with translation.override("it"):
        labels = {key: str(label) for key, label in SPECIAL_NAMES.items()}
    assert re.search(labels["INBOX"] + r"</span> <span class=\"count\"[^>]*>2</span>", page)
    order = [
        page.index(f'<span class="label">{labels[k]}</span>')
        for k in ("INBOX", "Drafts", "Sent", "Junk", "Trash")
    ]
    assert order == sorted(order)
    # and the login is in the access log
    rows = list(
        AccessLogEntry.objects.filter(login=user.address, protocol="webmail").values_list("result", flat=True)
    )
    assert rows == ["success"]


def test_list_is_sorted_by_the_server_and_paginated(webmail_user):
    user = webmail_user()
    from domains.models import Mailbox
    from webmail.services import preferences_update

    preferences_update(user=Mailbox.objects.get(local_part=user.address.split("@")[0]).user, page_size=10)
    for i in range(12):
        user.append(message(subject=f"Subject {i:02d}", body="x" * (i * 100)))
    # by subject ascending: page 1 has 00..09, page 2 has 10..11
    first = user.client.get(
        "/webmail/mail/", {"f": "INBOX", "sort": "subject", "order": "asc"}
    ).content.decode()
    subjects = re.findall(r"Subject (\d\d)</a>", first)
    assert subjects == [f"{i:02d}" for i in range(10)]
    second = user.client.get("/webmail/mail/", {"f": "INBOX", "sort": "subject", "order": "asc", "page": 2})
    assert re.findall(r"Subject (\d\d)</a>", second.content.decode()) == ["10", "11"]
    # by size descending: the largest first
    by_size = user.client.get("/webmail/mail/", {"f": "INBOX", "sort": "size"}).content.decode()
    assert re.findall(r"Subject (\d\d)</a>", by_size)[:3] == ["11", "10", "09"]


def test_search_by_sender_subject_body_and_date(webmail_user):
    user = webmail_user()
    user.append(message(sender="carol@example.test", subject="Invoice March", body="total 100"))
    user.append(message(sender="dave@example.test", subject="Lunch", body="pizza at noon"))
    def get(**q):
        page = user.client.get("/webmail/mail/", {"f": "INBOX", **q}).content.decode()
        return re.findall(r'class="subject"[^>]*>([^<]+)</a>', page)

    assert get(q="carol", **{"in": "from"}) == ["Invoice March"]
    assert get(q="lunch", **{"in": "subject"}) == ["Lunch"]
    assert get(q="pizza", **{"in": "body"}) == ["Lunch"]
    assert get(q="pizza") == ["Lunch"]
    assert get(q="bob@example.test", **{"in": "to"}) and len(get(q="bob@example.test", **{"in": "to"})) == 2
    assert get(since="2099-01-01") == []


def test_reading_marks_seen_and_shows_plain_text_escaped(webmail_user):
    user = webmail_user()
    uid = user.append(message(subject="Plain", body="a <b>not bold</b> https://example.test/x."))
    response = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "a &lt;b&gt;not bold&lt;/b&gt;" in page
    assert '<a href="https://example.test/x" target="_blank" rel="noopener noreferrer nofollow">' in page
    with user.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert b"\\Seen" in imap.get_flags([uid])[uid]


def test_actions_flag_move_delete_and_empty_trash(webmail_user):
    user = webmail_user()
    a = user.append(message(subject="A"))
    b = user.append(message(subject="B"))
    post = lambda **d: user.client.post("/webmail/mail/actions/", {"f": "INBOX", **d})  # noqa: E731
    assert post(action="flag", uid=[a]).status_code == 302
    with user.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert b"\\Flagged" in imap.get_flags([a])[a]
    assert post(action="move", uid=[a], target="Junk").status_code == 302
    assert post(action="delete", uid=[b]).status_code == 302
    assert user.uids("INBOX") == [] and len(user.uids("Junk")) == 1 and len(user.uids("Trash")) == 1
    assert user.client.post("/webmail/mail/actions/", {"f": "Trash", "action": "empty"}).status_code == 302
    assert user.uids("Trash") == []


def test_attachment_download_source_and_eml(webmail_user):
    user = webmail_user()
    raw = (
        b"From: a@example.test\r\nTo: b@example.test\r\nSubject: With file\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b'--XX\r\nContent-Type: application/pdf; name="doc.pdf"\r\nContent-Disposition: attachment; '
        b'filename="doc.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n'
    )
    uid = user.append(raw)
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    assert f"/webmail/message/{uid}/part/2/?f=INBOX" in page and "doc.pdf" in page
    part = user.client.get(f"/webmail/message/{uid}/part/2/", {"f": "INBOX"})
    assert part.status_code == 200 and part.content == b"%PDF-1.4\n"
    assert part["Content-Disposition"].startswith('attachment; filename="doc.pdf"')
    source = user.client.get(f"/webmail/message/{uid}/source/", {"f": "INBOX"})
    assert source["Content-Type"] == "text/plain; charset=utf-8" and b"JVBERi0xLjQK" in source.content
    eml = user.client.get(f"/webmail/message/{uid}/eml/", {"f": "INBOX"})
    assert eml.content == raw and 'filename="With file.eml"' in eml["Content-Disposition"]
    # the list shows the attachment marker
    assert "mark-attach" in user.client.get("/webmail/mail/", {"f": "INBOX"}).content.decode()
