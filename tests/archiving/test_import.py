"""The import wizard (issue 13, item 7) against the real Dovecot: folders with their counts and
pre-mapping, messages older than the retention skipped, the same de-duplication as journaling,
exact counts emailed at the end, the control panel's wizard and progress pages; and a kill -9
of a real Celery worker in the middle of an import, resumed by the next worker with no
duplicate."""

import datetime as dt
import os
import signal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from archiving import importing
from archiving.forms import folder_field_name
from archiving.importing import import_folders, import_run, import_start
from archiving.models import ArchivedMessage, ArchiveImport
from archiving.services import archive_attach
from archiving.verify import chain_break
from domains.models import Mailbox
from mailstore.imap import LiveMailbox
from mailstore.reader import mail_session
from tests.archiving.worker import import_queue, start_worker, stop_worker, wait_for
from tests.factories import DomainFactory, ManagerFactory
from tests.panel.conftest import panel_client, postmaster_of


def message(tag: str, *, sender: str = "alice@far.example") -> bytes:
    return (
        f"From: {sender}\r\nTo: owner@x.test\r\nSubject: {tag}\r\nMessage-ID: <{tag}@far.example>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nbody of {tag}\r\n"
    ).encode()


def mailbox_of(address: str) -> Mailbox:
    local_part, domain = address.split("@")
    return Mailbox.objects.select_related("domain").get(local_part=local_part, domain__name=domain)


def fill(address: str, folders: dict[str, list[tuple[str, dt.datetime | None]]]) -> None:
    with mail_session(LiveMailbox(address)) as store:
        existing = store.folder_names()
        for folder, items in folders.items():
            if folder not in existing:
                store.folder_create(folder)
            for tag, when in items:
                store.append(folder, message(tag), when=when)


@pytest.fixture
def no_queue(monkeypatch):
    """import_start queues the Celery job on commit: recorded here, run by the test itself."""
    queued = []
    monkeypatch.setattr(importing, "enqueue", queued.append)
    return queued


def entries(archive, folder=None) -> list[str]:
    rows = ArchivedMessage.objects.filter(archive=archive)
    if folder:
        rows = rows.filter(folder=folder)
    return sorted(rows.values_list("subject", flat=True))


def test_folders_counts_premapping_old_messages_skipped_and_no_duplicate(
    mailplane, mailbox_factory, settings, no_queue
):
    # given a mailbox with mail in several folders, one message older than the retention (1 year)
    address, _password = mailbox_factory()
    mailbox = mailbox_of(address)
    archive = archive_attach(mailbox=mailbox, retention_years=1).archive
    old = timezone.now() - dt.timedelta(days=3 * 365)
    fill(
        address,
        {
            "INBOX": [("in-1", None), ("in-2", None), ("in-3", None), ("in-old", old)],
            "Sent": [("sent-1", None), ("sent-2", None)],
            "Drafts": [("draft-1", None)],
            "Projects": [("proj-1", None)],
        },
    )

    # the wizard lists each folder with its count, pre-mapped
    folders = {f.name: f for f in import_folders(mailbox)}
    assert {
        n: (f.messages, f.target) for n, f in folders.items() if n in ("INBOX", "Sent", "Drafts", "Projects")
    } == {
        "INBOX": (4, "received"),
        "Sent": (2, "sent"),
        "Drafts": (1, "ignore"),
        "Projects": (1, "received"),
    }

    # when the import runs (small batches) with the default mapping
    settings.ARCHIVE_IMPORT_BATCH = 2
    mapping = {name: f.target for name, f in folders.items()}
    job = import_start(mailbox=mailbox, mapping=mapping, notify=[address])
    assert no_queue == [job.pk]
    mail.outbox.clear()
    with translation.override("en"):  # the email is in the active language; read here in English
        assert import_run(job.pk) == "done"

    # then the folders land in Received / Sent, Drafts ignored, the old message skipped
    assert entries(archive, "received") == ["in-1", "in-2", "in-3", "proj-1"]
    assert entries(archive, "sent") == ["sent-1", "sent-2"]
    job.refresh_from_db()
    assert job.state == "done" and job.percent == 100
    totals = job.totals()
    assert (totals["imported"], totals["duplicates"], totals["too_old"], totals["done"]) == (6, 0, 1, 7)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [address]
    assert "Messages imported: 6" in mail.outbox[0].body
    archive.refresh_from_db()
    assert chain_break(archive) is None
    # and nothing is marked seen in the mailbox
    with mail_session(LiveMailbox(address)) as store:
        assert all(b"\\Seen" not in m.flags for m in store.messages_raw("INBOX", store.uids_after("INBOX")))

    # a second import (a rerun, or a job resumed past its progress) adds nothing
    assert import_run(job.pk) == "finished"
    again = import_start(mailbox=mailbox, mapping=mapping)
    assert import_run(again.pk) == "done"
    again.refresh_from_db()
    assert (again.totals()["imported"], again.totals()["duplicates"]) == (0, 6)
    assert ArchivedMessage.objects.filter(archive=archive).count() == 6


def test_start_refuses_unknown_folders_targets_and_a_second_running_import(
    mailplane, mailbox_factory, no_queue
):
    from django.core.exceptions import ValidationError

    address, _password = mailbox_factory()
    mailbox = mailbox_of(address)
    archive_attach(mailbox=mailbox, retention_years=3)
    with pytest.raises(ValidationError):
        import_start(mailbox=mailbox, mapping={"Nope": "received"})
    with pytest.raises(ValidationError):
        import_start(mailbox=mailbox, mapping={"INBOX": "trash"})
    with pytest.raises(ValidationError):
        import_start(mailbox=mailbox, mapping={"INBOX": "ignore"})
    import_start(mailbox=mailbox, mapping={"INBOX": "received"})
    with pytest.raises(ValidationError):
        import_start(mailbox=mailbox, mapping={"INBOX": "received"})


def test_panel_wizard_after_attaching_and_its_progress_page(mailplane, mailbox_factory, no_queue):
    domain = DomainFactory()
    manager = ManagerFactory(customer=domain.customer, domains=[domain])
    address, _password = mailbox_factory(domain=domain, local_part="owner")
    mailbox = mailbox_of(address)
    fill(address, {"INBOX": [("a", None), ("b", None)]})
    as_manager = panel_client(manager.user)

    # attaching leads to the wizard
    attach = reverse("mailadmin:mailbox_archive", args=[domain.name, mailbox.pk])
    response = as_manager.post(attach, {"retention_years": "5", "confirm": "1"})
    wizard = reverse("mailadmin:mailbox_archive_import", args=[domain.name, mailbox.pk])
    assert response.status_code == 302 and response["Location"] == wizard

    page = as_manager.get(wizard)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="' + folder_field_name("INBOX") + '"' in body and "<td data-label" in body

    # the four clients: anonymous, another domain's postmaster, this domain's postmaster, the Manager
    postmaster = panel_client(postmaster_of(domain).user)
    foreign = panel_client(postmaster_of(DomainFactory()).user)
    assert as_manager.__class__().get(wizard).status_code == 302
    assert foreign.get(wizard).status_code == 404
    assert postmaster.get(wizard).status_code == 403

    fields = {folder_field_name(f.name): f.target for f in import_folders(mailbox)}
    fields[folder_field_name("INBOX")] = "bogus"
    assert as_manager.post(wizard, fields).status_code == 400
    fields[folder_field_name("INBOX")] = "received"
    response = as_manager.post(wizard, fields)
    job = ArchiveImport.objects.get(archive__mailbox=mailbox)
    progress = reverse("mailadmin:mailbox_archive_import_progress", args=[domain.name, mailbox.pk, job.pk])
    status = reverse("mailadmin:mailbox_archive_import_status", args=[domain.name, mailbox.pk, job.pk])
    assert response.status_code == 302 and response["Location"] == progress
    assert no_queue == [job.pk]
    # while it runs, the wizard sends to the progress page
    assert as_manager.get(wizard)["Location"] == progress

    page = as_manager.get(progress)
    assert page.status_code == 200 and b"<progress" in page.content and b"archive/import.js" in page.content
    assert as_manager.get(status).json()["state"] == "queued"
    import_run(job.pk)
    data = as_manager.get(status).json()
    assert (data["state"], data["percent"], data["imported"], data["finished"]) == ("done", 100, 2, True)

    assert as_manager.__class__().get(status).status_code == 403
    assert foreign.get(status).status_code == 404
    assert postmaster.get(status).status_code == 404
    assert foreign.get(progress).status_code == 404
    assert postmaster.get(progress).status_code == 403


# kill -9 of a real worker ----------------------------------------------------------------------


def test_an_import_resumes_after_a_kill_9_of_the_worker_without_duplicates(
    mailplane, mailbox_factory, settings, tmp_path
):
    # given a mailbox with 30 messages and an archive
    address, _password = mailbox_factory()
    mailbox = mailbox_of(address)
    archive = archive_attach(mailbox=mailbox, retention_years=10).archive
    fill(address, {"INBOX": [(f"m{i:02d}", None) for i in range(30)]})
    queue = import_queue()
    settings.ARCHIVE_IMPORT_QUEUE = queue
    log = tmp_path / "worker.log"

    def job_state():
        return ArchiveImport.objects.filter(archive=archive).values("state", "progress").first()

    first = start_worker(queue, log)
    second = None
    try:
        # when the import is queued and a real worker runs it
        job = import_start(mailbox=mailbox, mapping={"INBOX": "received"})

        # and the worker is killed (SIGKILL) in the middle
        wait_for(lambda: 6 <= job_state()["progress"][0]["done"] < 24, 90, "a worker half-way", log)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = job_state()
        assert at_kill["state"] == "running" and at_kill["progress"][0]["done"] < 30
        assert ArchivedMessage.objects.filter(archive=archive).count() == at_kill["progress"][0]["imported"]

        # then a restarted worker resumes it to the end
        second = start_worker(queue, log)
        wait_for(lambda: job_state()["state"] == "done", 120, "the resumed import to finish", log)
    finally:
        for process in (first, second):
            if process is not None:
                stop_worker(process)

    # with every message archived exactly once, the chain whole, exact counts
    job.refresh_from_db()
    assert entries(archive) == [f"m{i:02d}" for i in range(30)]
    seqs = list(ArchivedMessage.objects.filter(archive=archive).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 31))
    assert (job.totals()["imported"], job.totals()["duplicates"], job.totals()["done"]) == (30, 0, 30)
    archive.refresh_from_db()
    assert chain_break(archive) is None
