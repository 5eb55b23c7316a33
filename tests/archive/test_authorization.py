"""Every Archive URL with the four clients (anonymous, another domain's user, a same-customer
user without the right, the owner) plus a Delegate of another mailbox: only the owner reads,
nothing leaks (the outsiders get the login page or 404, never a subject), nothing changes."""

import pytest
from django.test import Client

from archiving.models import Archive, ArchivedMessage
from core.models import AuditEntry
from tests.archive.conftest import DELEGATE_PASSWORD, portal_login
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db


def urls(world) -> dict[str, tuple[str, str, dict]]:
    a, e = world.archive.pk, world.inside.pk
    return {
        "archive": ("get", f"/archive/a/{a}/", {}),
        "folder": ("get", f"/archive/a/{a}/2025/received/", {}),
        "search": ("get", f"/archive/a/{a}/search/", {"q": "budget"}),
        "message": ("get", f"/archive/a/{a}/m/{e}/", {}),
        "body": ("get", f"/archive/a/{a}/m/{e}/body/", {}),
        "part": ("get", f"/archive/a/{a}/m/{e}/part/2/", {}),
        "source": ("get", f"/archive/a/{a}/m/{e}/source/", {}),
        "eml": ("get", f"/archive/a/{a}/m/{e}/eml/", {}),
        "readers": ("get", f"/archive/a/{a}/readers/", {}),
        "export": ("post", f"/archive/a/{a}/export/", {"id": [str(e)], "format": "zip"}),
        "put_back": ("post", f"/archive/a/{a}/put-back/", {"id": [str(e)]}),
        "export_job": ("get", f"/archive/a/{a}/exports/{world.job.pk}/", {}),
        "export_download": ("get", f"/archive/a/{a}/exports/{world.job.pk}/{world.job.token}/", {}),
    }


@pytest.fixture
def job(world, settings, tmp_path):
    """A finished export job the owner asked for (its file stored)."""
    from archiving.export_jobs import archive_export_build, archive_export_request
    from archiving.selectors import archive_access

    settings.ARCHIVE_EXPORT_DIR = tmp_path / "exports"
    access = archive_access(user=world.owner.user, archive_id=world.archive.pk)
    world.job = archive_export_request(access=access, entry_ids=[world.inside.pk], fmt="zip")
    archive_export_build(job_id=world.job.pk)
    return world.job


def state() -> dict:
    return {
        "entries": list(ArchivedMessage.objects.order_by("pk").values_list("pk", "entry_hash")),
        "heads": list(Archive.objects.order_by("pk").values_list("head_seq", "head_hash")),
        "audit": AuditEntry.objects.count(),
    }


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def call(client: Client, method: str, url: str, data: dict):
    return getattr(client, method)(url, data)


def test_outsiders_get_nothing(world, job):
    clients = {
        "anonymous": Client(),
        "another domain's user": portal_login(world.foreigner.address, MAILBOX_PASSWORD),
        "same customer, no right": portal_login(world.colleague.address, MAILBOX_PASSWORD),
        "delegate of another mailbox": portal_login("other.auditor", DELEGATE_PASSWORD),
    }
    before = state()
    for who, client in clients.items():
        for name, (method, url, data) in urls(world).items():
            response = call(client, method, url, data)
            if who == "anonymous":
                assert response.status_code == 302, (who, name)
                assert response["Location"].startswith("/archive/login/?next="), (who, name)
            else:
                assert response.status_code == 404, (who, name, response.status_code)
            content = body_of(response)
            assert b"budget" not in content and b"zanzibar" not in content, (who, name)
    assert state() == before
    # and their portal home lists their own archives only
    for who, client in clients.items():
        content = client.get("/archive/", follow=True).content
        assert b"ceo@acme.test" not in content, who
        assert f"/archive/a/{world.archive.pk}/".encode() not in content, who


def test_the_owner_reads_every_url(world, job, owner_client):
    before = state()
    for name, (method, url, data) in urls(world).items():
        if name == "put_back":
            continue  # writes into the live mailbox: tests/archive/test_put_back.py, with Dovecot
        response = call(owner_client, method, url, data)
        assert response.status_code == 200, (name, response.status_code)
    # the owner's own reads are not recorded, and nothing of the archive changed
    assert state() == before


def test_a_delegate_cannot_put_back(world, job, full_client):
    method, url, data = urls(world)["put_back"]
    assert call(full_client, method, url, data).status_code == 403


def test_a_mailbox_without_archive_or_grant_cannot_enter(world):
    from tests.factories import MailboxFactory

    mailbox = MailboxFactory(domain=world.owner.domain, local_part="intern")
    response = Client().post("/archive/login/", {"login": mailbox.address, "password": MAILBOX_PASSWORD})
    assert response.status_code == 403
