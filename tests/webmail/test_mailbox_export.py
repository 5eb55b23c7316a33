"""Issue 15 item 6: a whole mailbox as a .zip of one mbox per folder, for its user (webmail
settings) and for the domain's Postmaster (control panel), streamed with flat memory and audited.
Real Dovecot; the .zip and the mbox files are read back with the standard library."""

import base64
import io
import mailbox
import os
import tracemalloc
import zipfile

import pytest

from core.models import AuditEntry
from domains.models import Mailbox
from mailstore import reader
from mailstore.imap import imap_session
from tests.panel.conftest import panel_client
from tests.webmail.conftest import message

pytestmark = pytest.mark.protocol

URL = "/webmail/settings/export/mailbox.zip"


def mbox_subjects(archive: zipfile.ZipFile, name: str, tmp_path) -> list[str]:
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(archive.read(name))
    return sorted(m["Subject"] for m in mailbox.mbox(str(path)))


def test_the_user_downloads_every_folder_as_an_mbox_and_it_is_audited(webmail_user, tmp_path):
    user = webmail_user()
    with imap_session(user.address) as imap:
        imap.create_folder("Projects/2024")
    user.append(message(subject="one in the inbox"))
    user.append(message(subject="From the start of a line", body="From here on\r\nit is quoted"))
    user.append(message(subject="sent one"), folder="Sent")
    user.append(message(subject="old project"), folder="Projects/2024")
    page = user.client.get("/webmail/settings/export/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Your mailbox holds" in page.content.decode()
    response = user.client.get(URL)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "attachment;" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0] == "INBOX.mbox" and "Projects/2024.mbox" in names and "Sent.mbox" in names
    assert mbox_subjects(archive, "INBOX.mbox", tmp_path) == ["From the start of a line", "one in the inbox"]
    assert mbox_subjects(archive, "Projects/2024.mbox", tmp_path) == ["old project"]
    inbox = mailbox.mbox(str(tmp_path / "INBOX.mbox"))
    quoted = next(m for m in inbox if m["Subject"] == "From the start of a line")
    assert quoted.get_payload().startswith(">From here on")  # mboxrd: a reader undoes one ">"
    [entry] = AuditEntry.objects.filter(action="mailbox.export", target=user.address)
    assert entry.after == {"by": "owner"}


def test_the_postmaster_downloads_a_mailbox_of_the_domain(webmail_user, tmp_path):
    user = webmail_user()
    user.append(message(subject="for the postmaster"))
    mailbox_row = Mailbox.objects.select_related("domain").get(
        local_part=user.address.split("@")[0], domain__name=user.address.split("@")[1]
    )
    postmaster = Mailbox.objects.select_related("user").get(domain=mailbox_row.domain, is_postmaster=True)
    postmaster.user.must_change_password = False  # as after its first login
    postmaster.user.save(update_fields=["must_change_password"])
    response = panel_client(postmaster.user).get(
        f"/mailadmin/d/{mailbox_row.domain.name}/m/{mailbox_row.pk}/export/"
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert mbox_subjects(archive, "INBOX.mbox", tmp_path) == ["for the postmaster"]
    [entry] = AuditEntry.objects.filter(action="mailbox.export", target=user.address)
    assert entry.after == {"by": "admin"} and entry.actor_id == postmaster.user_id


MESSAGES = 80
BODY = 512 * 1024  # characters of base64 per message: ~42 MB for the mailbox


def test_the_download_streams_with_flat_memory(webmail_user, monkeypatch):
    user = webmail_user()
    with imap_session(user.address) as imap:
        for i in range(MESSAGES):
            body = base64.encodebytes(os.urandom(BODY * 3 // 4)).decode()
            imap.append("INBOX", message(subject=f"big {i}", body=body))
    fetched = []
    original = reader.MailSession.messages_stream

    def counting(self, folder, **kwargs):
        for item in original(self, folder, **kwargs):
            fetched.append((folder, item.uid))
            yield item

    monkeypatch.setattr(reader.MailSession, "messages_stream", counting)
    response = user.client.get(URL)
    tracemalloc.start()
    try:
        chunks = iter(response.streaming_content)
        first = next(chunks)
        read_at_first = len(fetched)
        total = len(first)
        for chunk in chunks:
            total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    size = MESSAGES * BODY
    sent, mail_mb, top = total / 1e6, size / 1e6, peak / 1e6
    print(f"\nmailbox export: {sent:.1f} MB sent for {mail_mb:.1f} MB of mail, peak {top:.1f} MB")
    # the first bytes leave after one message, not after the mailbox was read
    assert read_at_first == 1 and sum(1 for f, _u in fetched if f == "INBOX") == MESSAGES
    assert total > size * 0.7  # base64 of random bytes barely compresses: the mail was all sent
    # the bound: a few fetch batches (mailstore.reader.STREAM_BATCH_BYTES, 4 MB), never the mailbox
    assert peak < 4 * reader.STREAM_BATCH_BYTES < size / 1.5, peak
