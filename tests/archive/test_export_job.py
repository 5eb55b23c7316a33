"""Very large exports: above ARCHIVE_EXPORT_STREAM_MAX messages the export is a Celery job with
its progress page; the file is stored, a link that expires is emailed; a job interrupted (the
worker killed, a half-written file left) is rebuilt whole by its rerun; only the asker downloads."""

import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone

from archiving.export_jobs import export_path
from archiving.models import ArchiveExport
from archiving.tasks import archive_export_run, archive_exports_expire

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limit(settings, tmp_path):
    settings.ARCHIVE_EXPORT_STREAM_MAX = 1
    settings.ARCHIVE_EXPORT_DIR = tmp_path / "exports"


def ask(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        data = {"id": [world.inside.pk, world.sent.pk], "format": "zip"}
        response = client.post(f"/archive/a/{world.archive.pk}/export/", data)
    job = ArchiveExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/archive/a/{world.archive.pk}/exports/{job.pk}/"
    assert len(queued) == 1  # the task is queued once the request's transaction commits
    return job


def test_a_large_export_is_a_job_with_progress_a_stored_file_and_an_emailed_link(
    world, full_client, mailoutbox, django_capture_on_commit_callbacks
):
    job = ask(full_client, world, django_capture_on_commit_callbacks)
    assert (job.status, job.total, job.email) == ("queued", 2, "full.auditor@auditors.test")
    page = full_client.get(f"/archive/a/{world.archive.pk}/exports/{job.pk}/")
    assert page.status_code == 200 and page.context["percent"] == 0
    assert b'http-equiv="refresh"' in page.content

    # the worker runs the task
    assert archive_export_run.apply(args=[job.pk]).get() == 2
    job.refresh_from_db()
    assert (job.status, job.done) == ("done", 2)
    assert job.expires_at > timezone.now() + dt.timedelta(days=6)
    [mail] = mailoutbox
    assert mail.to == ["full.auditor@auditors.test"]
    link = f"/archive/a/{world.archive.pk}/exports/{job.pk}/{job.token}/"
    assert link in mail.body

    response = full_client.get(link)
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert len(zf.namelist()) == 3  # two messages and the manifest


def test_only_the_asker_downloads_and_not_after_expiry(
    world, full_client, owner_client, django_capture_on_commit_callbacks
):
    job = ask(full_client, world, django_capture_on_commit_callbacks)
    archive_export_run.apply(args=[job.pk])
    job.refresh_from_db()
    link = f"/archive/a/{world.archive.pk}/exports/{job.pk}/{job.token}/"
    assert owner_client.get(link).status_code == 404  # the owner did not ask for it
    assert owner_client.get(f"/archive/a/{world.archive.pk}/exports/{job.pk}/").status_code == 404
    assert full_client.get(link[:-5] + "xxxx/").status_code == 404  # a wrong token
    ArchiveExport.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert full_client.get(link).status_code == 404
    assert archive_exports_expire.apply().get() == 1
    assert not export_path(job).exists()


def test_an_interrupted_job_is_rebuilt_whole(world, full_client, django_capture_on_commit_callbacks):
    job = ask(full_client, world, django_capture_on_commit_callbacks)
    # as after a kill -9 of the worker mid-way: running, a half-written .part file, no file
    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_name(path.name + ".part").write_bytes(b"PK\x03\x04 half")
    ArchiveExport.objects.filter(pk=job.pk).update(status="running", done=1)
    archive_export_run.apply(args=[job.pk])  # the broker hands the unacknowledged task back
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None and len(zf.namelist()) == 3
    assert not path.with_name(path.name + ".part").exists()
    # and a rerun of a finished job does not rebuild it
    before = path.stat().st_mtime_ns
    archive_export_run.apply(args=[job.pk])
    assert path.stat().st_mtime_ns == before


def test_headers_only_cannot_ask_for_a_job(world, headers_client):
    response = headers_client.post(
        f"/archive/a/{world.archive.pk}/export/", {"id": [world.inside.pk, world.sent.pk], "format": "zip"}
    )
    assert response.status_code == 403 and not ArchiveExport.objects.exists()
