"""The Archive portal's plan pages (archive.views.plan), for the owner only: retention and the
import wizard. Every URL with anonymous, another domain's owner, a same-customer user without
the right (a mailbox of the same domain without archive; a Delegate of this mailbox), and the
owner."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from archiving import importing
from archiving.forms import folder_field_name
from archiving.models import ArchiveImport
from archiving.services import archive_attach
from domains.services.delegates import delegate_create
from portalkit.session import PORTALS_KEY
from tests.archiving.test_import import fill, mailbox_of
from tests.factories import DomainFactory, MailboxFactory, ManagerFactory

PASSWORD = "Delegate-Pass-2026-x"  # noqa: S105 - test data


def portal_client(user) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[PORTALS_KEY] = ["archive"]
    session.save()
    return client


def make_world(owner_mailbox):
    domain = owner_mailbox.domain
    manager = ManagerFactory(customer=domain.customer, domains=[domain])
    archive = archive_attach(mailbox=owner_mailbox, retention_years=5).archive
    plain = MailboxFactory(domain=domain, local_part="plain")  # same domain, no archive
    other = MailboxFactory()  # another domain's owner, with an archive of their own
    other_archive = archive_attach(mailbox=other, retention_years=2).archive
    other_job = ArchiveImport.objects.create(archive=other_archive, mailbox=other, progress=[])
    delegate = delegate_create(
        manager=manager,
        username="dele.acme",
        password=PASSWORD,
        name="Auditor",
        email="auditor@example.test",
        expires_on=timezone.localdate() + dt.timedelta(days=30),
        grants=[(owner_mailbox, "full")],
    )
    return {
        "archive": archive,
        "owner": portal_client(owner_mailbox.user),
        "anonymous": Client(),
        "other": portal_client(other.user),
        "plain": portal_client(plain.user),
        "delegate": portal_client(delegate.user),
        "other_job": other_job,
    }


@pytest.mark.django_db
def test_plan_pages_matrix_and_the_owner_shortens_then_cancels(django_capture_on_commit_callbacks):
    mailbox = MailboxFactory(local_part="owner")
    w = make_world(mailbox)
    home = reverse("archive:plan")
    retention = reverse("archive:plan_retention")
    foreign_progress = reverse("archive:plan_import_progress", args=[w["other_job"].pk])
    foreign_status = reverse("archive:plan_import_status", args=[w["other_job"].pk])

    # anonymous: to the login (pages), 403 JSON (status)
    assert w["anonymous"].get(home).status_code == 302
    assert reverse("archive:login") in w["anonymous"].get(home)["Location"]
    assert w["anonymous"].post(retention, {"retention_years": "1"}).status_code == 302
    assert w["anonymous"].get(foreign_status).status_code == 403
    # no archive of their own, or a Delegate: nothing here
    for who in ("plain", "delegate"):
        assert w[who].get(home).status_code == 404
        assert w[who].post(retention, {"retention_years": "1"}).status_code == 404
        assert w[who].get(foreign_progress).status_code == 404
        assert w[who].get(foreign_status).status_code == 404
    # another domain's owner sees only their own plan, never this job
    other_page = w["other"].get(home)
    assert other_page.status_code == 200 and mailbox.address not in other_page.content.decode()
    owner = w["owner"]
    assert owner.get(foreign_progress).status_code == 404
    assert owner.get(foreign_status).status_code == 404
    archive = w["archive"]
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, None)

    # the owner: their plan, and they may shorten (pending 30 days, emailed) and cancel
    page = owner.get(home)
    assert page.status_code == 200 and mailbox.address in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post(retention, {"retention_years": "2"}).status_code == 302
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, 2)
    assert 'value="cancel"' in owner.get(home).content.decode()
    assert owner.post(retention, {"action": "cancel"}).status_code == 302
    archive.refresh_from_db()
    assert archive.pending_retention_years is None
    assert owner.post(retention, {"retention_years": "11"}).status_code == 400
    assert owner.post(retention, {"retention_years": "9"}).status_code == 302
    archive.refresh_from_db()
    assert archive.retention_years == 9
    assert owner.get(retention).status_code == 405


def test_owner_import_wizard_in_the_portal(mailplane, mailbox_factory, monkeypatch):
    queued = []
    monkeypatch.setattr(importing, "enqueue", queued.append)
    domain = DomainFactory()
    address, _password = mailbox_factory(domain=domain, local_part="owner")
    mailbox = mailbox_of(address)
    fill(address, {"INBOX": [("p1", None), ("p2", None), ("p3", None)], "Sent": [("s1", None)]})
    w = make_world(mailbox)
    owner = w["owner"]
    wizard = reverse("archive:plan_import")

    assert w["anonymous"].get(wizard).status_code == 302
    assert w["plain"].get(wizard).status_code == 404
    assert w["delegate"].get(wizard).status_code == 404

    page = owner.get(wizard)
    assert page.status_code == 200
    assert folder_field_name("INBOX") in page.content.decode()
    fields = {folder_field_name(name): target for name, target in (("INBOX", "received"), ("Sent", "sent"))}
    response = owner.post(wizard, fields | {folder_field_name("Drafts"): "ignore"})
    job = ArchiveImport.objects.get(archive=w["archive"])
    progress = reverse("archive:plan_import_progress", args=[job.pk])
    status = reverse("archive:plan_import_status", args=[job.pk])
    assert response.status_code == 302 and response["Location"] == progress
    assert queued == [job.pk] and job.notify == [address]

    assert owner.get(progress).status_code == 200
    assert w["other"].get(progress).status_code == 404
    assert w["other"].get(status).status_code == 404
    assert w["delegate"].get(status).status_code == 404
    importing.import_run(job.pk)
    data = owner.get(status).json()
    assert (data["state"], data["imported"], data["percent"]) == ("done", 4, 100)
