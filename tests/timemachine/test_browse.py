"""The Time Machine portal over a real snapshot: the day picker, every folder of the day, lists
(sort, search, pages), the reader with the webmail's sanitised rendering, source, .eml, parts,
and folder exports (.zip of .eml, mbox) that match the day, not the live mailbox."""

import datetime
import io
import mailbox as mbox_module
import re
import zipfile

import pytest
from django.utils import timezone

from mailstore.imap import imap_session
from snapshots.models import Snapshot, SnapshotStatus
from tests.timemachine.conftest import mail

pytestmark = pytest.mark.protocol

HOSTILE = (
    '<p onclick="steal()">Hi <b>there</b></p><script>alert(1)</script>'
    '<img src="https://tracker.example/p.gif"><a href="javascript:alert(2)">x</a>'
)
ATTACHED = (
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: with attachment\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n"
    b'--XX\r\nContent-Type: application/pdf; name="s.pdf"\r\nContent-Disposition: attachment; '
    b'filename="s.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n'
)


@pytest.fixture
def owner(tm_user):
    user = tm_user()
    user.append(
        mail(subject="Bravo", sender="Zed <zed@example.test>", date="Wed, 04 Mar 2026 10:00:00 +0100")
    )
    user.append(
        mail(
            subject="Alpha",
            sender="Bea <bea@example.test>",
            date="Thu, 05 Mar 2026 10:00:00 +0100",
            body="x" * 5000,
        )
    )
    user.append(
        mail(
            subject="Charlie",
            sender="Al <al@example.test>",
            date="Tue, 03 Mar 2026 10:00:00 +0100",
            body="the needle is here",
        )
    )
    user.append(mail(subject="Hostile", html=True, body=HOSTILE))
    user.append(ATTACHED)
    user.append(mail(subject="Project plan"), folder="Projects")
    with imap_session(user.address) as imap:
        imap.create_folder("Hidden")  # never subscribed
        imap.append("Hidden", mail(subject="In a hidden folder"))
        assert "Hidden" not in [name for _flags, _sep, name in imap.list_sub_folders()]
    user.snapshot()
    return user


def subjects(html: str) -> list[str]:
    return re.findall(r'class="subject" href="[^"]*">([^<]*)<', html)


def test_the_day_picker_lists_the_readable_days_with_when_they_were_taken(owner):
    today = timezone.localdate()
    earlier = today - datetime.timedelta(days=3)
    owner.snapshot(earlier)
    Snapshot.objects.create(
        mailbox=owner.mailbox, day=today - datetime.timedelta(days=1), status=SnapshotStatus.FAILED
    )
    response = owner.client.get("/timemachine/")
    assert response.status_code == 200
    html = response.content.decode()
    days = re.findall(r'data-day="([\d-]+)"', html)
    assert days == [today.isoformat(), earlier.isoformat()]  # newest first, the failed day absent
    row = Snapshot.objects.get(mailbox=owner.mailbox, day=today)
    assert f'datetime="{timezone.localtime(row.taken_at).isoformat()}"' in html
    # a day taken after the night (hours after midnight) is marked late
    assert (row.status == SnapshotStatus.LATE) == ("tag-warn" in html.split(f'data-day="{earlier}"')[0])
    # the header's picker opens a day
    picked = owner.client.get("/timemachine/", {"day": earlier.isoformat()})
    assert picked.status_code == 302 and picked["Location"].startswith(f"/timemachine/d/{earlier}/")


def test_every_folder_of_the_day_subscribed_or_not_and_a_list_sorted_and_searched(owner):
    day = owner.days[0]
    response = owner.client.get(f"/timemachine/d/{day}/")
    assert response.status_code == 200
    html = response.content.decode()
    for folder in ("Projects", "Hidden"):
        assert f"?f={folder}" in html
    assert len(subjects(html)) == 5
    by_subject = owner.client.get(f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "subject", "order": "asc"})
    assert subjects(by_subject.content.decode()) == [
        "Alpha",
        "Bravo",
        "Charlie",
        "Hostile",
        "with attachment",
    ]
    by_size = owner.client.get(f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "size", "order": "desc"})
    assert subjects(by_size.content.decode())[0] == "Alpha"
    by_sender = owner.client.get(f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "from", "order": "asc"})
    # RFC 5256 SORT FROM: by the mailbox part of the address (a, al, alice, bea, zed)
    assert subjects(by_sender.content.decode()) == ["with attachment", "Charlie", "Hostile", "Alpha", "Bravo"]
    found = owner.client.get(f"/timemachine/d/{day}/", {"f": "INBOX", "q": "needle", "in": "body"})
    assert subjects(found.content.decode()) == ["Charlie"]
    hidden = owner.client.get(f"/timemachine/d/{day}/", {"f": "Hidden"})
    assert subjects(hidden.content.decode()) == ["In a hidden folder"]
    assert owner.client.get(f"/timemachine/d/{day}/", {"f": "Nope"}).status_code == 404


def test_pages(owner, monkeypatch):
    monkeypatch.setattr("timemachine.views.browse.PER_PAGE", 2)
    day = owner.days[0]
    first = owner.client.get(f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "subject", "order": "asc"})
    html = first.content.decode()
    assert subjects(html) == ["Alpha", "Bravo"] and 'rel="next"' in html
    third = owner.client.get(
        f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "subject", "order": "asc", "page": 3}
    )
    assert subjects(third.content.decode()) == ["with attachment"]


def test_messages_that_arrived_in_the_same_second_keep_one_order_by_uid(tm_user, monkeypatch):
    """Sorted by arrival, messages of the same second are in UID order (newest first: highest
    UID first), the exact reverse of the ascending list, on every page and in the reader's
    previous / next."""
    monkeypatch.setattr("timemachine.views.browse.PER_PAGE", 3)
    user = tm_user()
    second = datetime.datetime(2026, 3, 3, 10, 0, 0)  # noqa: DTZ001 - imapclient: naive = local time
    with imap_session(user.address) as imap:
        imap.append("INBOX", mail(subject="earlier"), msg_time=second - datetime.timedelta(seconds=5))
        for i in range(6):
            imap.append("INBOX", mail(subject=f"same {i}"), msg_time=second)
        imap.append("INBOX", mail(subject="later"), msg_time=second + datetime.timedelta(seconds=5))
    user.snapshot()
    day = user.days[0]

    def listed(order: str) -> list[str]:
        out = []
        for page in (1, 2, 3):
            answer = user.client.get(
                f"/timemachine/d/{day}/", {"f": "INBOX", "sort": "date", "order": order, "page": page}
            )
            out += subjects(answer.content.decode())
        return out

    newest_first = ["later"] + [f"same {i}" for i in reversed(range(6))] + ["earlier"]
    assert listed("desc") == newest_first
    assert listed("asc") == newest_first[::-1]
    # the reader's arrows walk the same order (newest first): UID 5 is "same 3"
    html = user.client.get(f"/timemachine/d/{day}/message/5/", {"f": "INBOX"}).content.decode()
    arrows = re.findall(r'href="/timemachine/d/[\d-]+/message/(\d+)/\?f=INBOX" class="btn"', html)
    assert arrows == ["6", "4"]  # newer, older
    assert listed("desc") == newest_first  # and again, from the connection's memo


def test_the_day_shows_the_snapshot_not_the_live_mailbox(owner):
    day = owner.days[0]
    with imap_session(owner.address) as imap:
        imap.select_folder("INBOX")
        imap.delete_messages(imap.search(["ALL"]))
        imap.expunge()
    owner.append(mail(subject="Arrived later"))
    html = owner.client.get(f"/timemachine/d/{day}/").content.decode()
    assert "Arrived later" not in html and len(subjects(html)) == 5


def test_the_reader_sanitises_like_the_webmail_and_marks_nothing_read(owner):
    day = owner.days[0]
    html = owner.client.get(f"/timemachine/d/{day}/", {"sort": "subject", "order": "asc"}).content.decode()
    uid = int(re.search(r'data-uid="(\d+)"[^>]*>(?:(?!</li>).)*Hostile', html, re.S).group(1))
    page = owner.client.get(f"/timemachine/d/{day}/message/{uid}/", {"f": "INBOX"})
    assert page.status_code == 200
    assert f'src="/timemachine/d/{day}/message/{uid}/body/?f=INBOX"' in page.content.decode()
    body = owner.client.get(f"/timemachine/d/{day}/message/{uid}/body/", {"f": "INBOX"})
    text = body.content.decode()
    assert "<b>there</b>" in text
    for bad in ("<script", "onclick", "javascript:", "tracker.example"):
        assert bad not in text
    assert (
        "sandbox" in body["Content-Security-Policy"] and "img-src data:;" in body["Content-Security-Policy"]
    )
    # nothing was marked read, neither in the day nor in the live mailbox
    again = owner.client.get(f"/timemachine/d/{day}/").content.decode()
    assert "unread" in re.search(rf'<li class="([^"]*)" data-uid="{uid}"', again).group(1).split()
    with imap_session(owner.address) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert b"\\Seen" not in imap.get_flags([uid])[uid]


def test_source_eml_and_attachment(owner):
    day = owner.days[0]
    uid = 5  # ATTACHED, the fifth appended
    source = owner.client.get(f"/timemachine/d/{day}/message/{uid}/source/", {"f": "INBOX"})
    assert source.status_code == 200 and source["Content-Type"].startswith("text/plain")
    assert "boundary=XX" in source.content.decode()
    eml = owner.client.get(f"/timemachine/d/{day}/message/{uid}/eml/", {"f": "INBOX"})
    assert eml["Content-Type"] == "message/rfc822" and eml.content == ATTACHED
    assert 'filename="with attachment.eml"' in eml["Content-Disposition"]
    page = owner.client.get(f"/timemachine/d/{day}/message/{uid}/", {"f": "INBOX"}).content.decode()
    assert f"/timemachine/d/{day}/message/{uid}/part/2/?f=INBOX" in page
    part = owner.client.get(f"/timemachine/d/{day}/message/{uid}/part/2/", {"f": "INBOX"})
    assert part.content == b"%PDF-1.4\n" and part["X-Content-Type-Options"] == "nosniff"
    assert owner.client.get(f"/timemachine/d/{day}/message/{uid}/part/9/", {"f": "INBOX"}).status_code == 404
    assert owner.client.get(f"/timemachine/d/{day}/message/999/", {"f": "INBOX"}).status_code == 404


def test_a_folder_as_zip_and_as_mbox(owner, tmp_path):
    day = owner.days[0]
    owner.append(mail(subject="After the snapshot"))
    response = owner.client.get(f"/timemachine/d/{day}/export/", {"f": "INBOX", "format": "zip"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert f'filename="INBOX {day}.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 5 and all(n.startswith("INBOX/") and n.endswith(".eml") for n in names)
    assert archive.read([n for n in names if "with attachment" in n][0]) == ATTACHED
    response = owner.client.get(f"/timemachine/d/{day}/export/", {"f": "Projects", "format": "mbox"})
    assert response["Content-Type"] == "application/mbox"
    path = tmp_path / "p.mbox"
    path.write_bytes(b"".join(response.streaming_content))
    box = mbox_module.mbox(str(path))
    assert [m["Subject"] for m in box] == ["Project plan"]
    assert (
        owner.client.get(f"/timemachine/d/{day}/export/", {"f": "INBOX", "format": "tar"}).status_code == 400
    )
    assert (
        owner.client.get(f"/timemachine/d/{day}/export/", {"f": "Nope", "format": "zip"}).status_code == 404
    )


def test_an_unknown_or_failed_day_is_404(owner):
    today = timezone.localdate()
    failed = today - datetime.timedelta(days=2)
    Snapshot.objects.create(mailbox=owner.mailbox, day=failed, status=SnapshotStatus.FAILED)
    for day in (failed, today - datetime.timedelta(days=5)):
        assert owner.client.get(f"/timemachine/d/{day}/").status_code == 404
    assert owner.client.get("/timemachine/d/2026-02-30/").status_code == 404


def test_logout_closes_the_session(owner):
    day = owner.days[0]
    assert owner.client.get(f"/timemachine/d/{day}/").status_code == 200
    assert owner.client.post("/timemachine/logout/").status_code == 302
    response = owner.client.get(f"/timemachine/d/{day}/")
    assert response.status_code == 302 and response["Location"].startswith("/timemachine/login/")
