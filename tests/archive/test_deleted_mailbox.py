"""An archive outlives the deletion of its mailbox (issue 13): its Delegates still read it, with
the same window and access level, until its retention ends or the Manager removes it; the
Manager sees it in the control panel (with its Delegates' reads) and removes it there."""

import pytest
from django.http import Http404
from django.test import Client

from archiving.models import Archive, ArchivePlan
from archiving.search import SearchFilters
from archiving.selectors import ContentRefused, archive_access, archives_for, entry_raw, search_entries
from archiving.services import archive_mailbox_undelete, archive_remove_orphan
from billing.models import BilledArchive, LedgerEvent
from core.models import AuditEntry
from domains import services as domain_services
from domains.models import DelegateGrant, DeletedMailbox, Mailbox
from tests.archive.conftest import DELEGATE_PASSWORD, journal, portal_login, raw
from tests.factories import MAILBOX_PASSWORD, DomainFactory, ManagerFactory
from tests.panel.conftest import panel_client, postmaster_of

pytestmark = pytest.mark.django_db

DELETED_ARCHIVES = "/mailadmin/d/acme.test/deleted-archives/"


@pytest.fixture
def deleted(world):
    """The owner's mailbox deleted by its Manager."""
    domain_services.mailbox_delete(mailbox=world.owner, actor=world.manager_user)
    return world


def test_the_grants_and_the_archive_outlive_the_mailbox(deleted):
    world = deleted
    archive = Archive.objects.get(pk=world.archive.pk)
    assert archive.mailbox_id is None and archive.removed_at is None
    grant = DelegateGrant.objects.get(delegate=world.full)
    assert (grant.mailbox_id, grant.mailbox_key, grant.address) == (
        None,
        archive.mailbox_key,
        "ceo@acme.test",
    )
    # the full grant still reads the content, inside its window
    access = archive_access(user=world.full.user, archive_id=archive.pk)
    assert [a.pk for a in archives_for(user=world.full.user)] == [archive.pk]
    assert access.full and access.domain == world.colleague.domain
    entry, data = entry_raw(access, world.inside.pk)
    assert b"zanzibar" in data
    assert [r["id"] for r in search_entries(access, text="zanzibar", filters=SearchFilters())] == [entry.pk]
    # the headers-only grant still gives headers only
    headers = archive_access(user=world.headers.user, archive_id=archive.pk)
    assert [r["id"] for r in search_entries(headers, text="budget", filters=SearchFilters())] == [entry.pk]
    with pytest.raises(ContentRefused):
        entry_raw(headers, world.inside.pk)


def test_a_delegate_reads_the_archive_of_a_deleted_mailbox_and_the_manager_sees_the_reads(world):
    client = portal_login("full.auditor", DELEGATE_PASSWORD)
    headers = portal_login("headers.auditor", DELEGATE_PASSWORD)
    domain_services.mailbox_delete(mailbox=world.owner, actor=world.manager_user)
    AuditEntry.objects.all().delete()
    a, e = world.archive.pk, world.inside.pk

    landing = client.get("/archive/")
    assert (landing.status_code, landing["Location"]) == (302, f"/archive/a/{a}/")
    assert {
        row["id"] for row in client.get(f"/archive/a/{a}/search/", {"q": "zanzibar"}).context["page"]
    } == {e}
    opened = client.get(f"/archive/a/{a}/m/{e}/")
    assert opened.status_code == 200 and b"budget" in opened.content
    eml = client.get(f"/archive/a/{a}/m/{e}/eml/")
    assert eml.status_code == 200 and b"zanzibar" in b"".join(
        eml.streaming_content if eml.streaming else [eml.content]
    )
    assert headers.get(f"/archive/a/{a}/m/{e}/source/").status_code == 403

    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "domain_id", "target"))
    domain_id = world.colleague.domain_id
    assert actions == [
        ("archive.delegate.search", domain_id, "ceo@acme.test"),
        ("archive.delegate.open", domain_id, "ceo@acme.test"),
        ("archive.delegate.eml", domain_id, "ceo@acme.test"),
    ]
    page = panel_client(world.manager_user).get("/mailadmin/d/acme.test/archive-reads/")
    assert [(r.actor_label, r.action) for r in page.context["page"]][-1] == (
        "full.auditor",
        "archive.delegate.search",
    )


def test_the_manager_sees_and_removes_the_archive_of_a_deleted_mailbox(deleted):
    world = deleted
    manager = panel_client(world.manager_user)
    page = manager.get(DELETED_ARCHIVES)
    assert page.status_code == 200
    # only the deleted mailbox's archive: the colleague's mailbox is alive
    assert [row["archive"].pk for row in page.context["rows"]] == [world.archive.pk]
    assert b"ceo@acme.test" in page.content and b"colleague@acme.test" not in page.content
    assert "3 messages, each kept 10 years from when it was archived." in page.content.decode()

    # a wrong address removes nothing
    wrong = manager.post(DELETED_ARCHIVES, {"archive": world.archive.pk, "confirm_address": "ceo@other.test"})
    assert wrong.status_code == 400
    assert Archive.objects.get(pk=world.archive.pk).removed_at is None
    # nor can it remove a live mailbox's archive
    live = manager.post(
        DELETED_ARCHIVES, {"archive": world.colleague_archive.pk, "confirm_address": "colleague@acme.test"}
    )
    assert live.status_code == 404
    assert Archive.objects.get(pk=world.colleague_archive.pk).removed_at is None

    removed = manager.post(
        DELETED_ARCHIVES, {"archive": world.archive.pk, "confirm_address": "CEO@acme.test "}
    )
    assert (removed.status_code, removed["Location"]) == (302, DELETED_ARCHIVES)
    assert Archive.objects.get(pk=world.archive.pk).removed_at is not None
    entry = AuditEntry.objects.get(action="archive.remove", target="ceo@acme.test")
    assert (entry.domain_id, entry.actor_id) == (world.colleague.domain_id, world.manager_user.pk)
    # readable 30 more days (the purge then deletes it: tests/archiving/test_plan.py)
    assert archive_access(user=world.full.user, archive_id=world.archive.pk).pk == world.archive.pk


def test_the_deleted_archives_page_with_four_clients(deleted):
    world = deleted
    other_domain = DomainFactory(name="elsewhere.test")
    other_manager = ManagerFactory(
        customer=other_domain.customer, domains=[other_domain], username="boss.else"
    )
    data = {"archive": world.archive.pk, "confirm_address": "ceo@acme.test"}
    for who, client, status in (
        ("anonymous", Client(), 302),
        ("another customer's Manager", panel_client(other_manager.user), 404),
        ("the domain's Postmaster", panel_client(postmaster_of(world.colleague.domain).user), 403),
    ):
        for method in ("get", "post"):
            response = getattr(client, method)(DELETED_ARCHIVES, data)
            assert response.status_code == status, (who, method)
            assert b"ceo@acme.test" not in response.content, (who, method)
    assert Archive.objects.get(pk=world.archive.pk).removed_at is None
    assert panel_client(world.manager_user).get(DELETED_ARCHIVES).status_code == 200


def test_an_undeleted_mailbox_takes_its_grants_and_its_archive_back(deleted):
    # given the owner's mailbox deleted: its archive on the Manager's page, billed as kept
    world = deleted
    manager = panel_client(world.manager_user)
    assert [row["archive"].pk for row in manager.get(DELETED_ARCHIVES).context["rows"]] == [world.archive.pk]
    assert BilledArchive.objects.get(mailbox_key=world.owner.pk).mailbox_id is None

    # when the Manager undeletes it in the control panel
    deleted_row = DeletedMailbox.objects.get(local_part="ceo")
    response = manager.post("/mailadmin/d/acme.test/deleted-mailboxes/", {"deleted": deleted_row.pk})

    # then it is the same mailbox, with its Delegates' grants and its archive
    assert response.status_code == 302
    mailbox = Mailbox.objects.get(local_part="ceo", domain=world.colleague.domain)
    assert mailbox.pk == world.owner.pk
    assert DelegateGrant.objects.get(delegate=world.full).mailbox_id == mailbox.pk
    assert archive_access(user=world.full.user, archive_id=world.archive.pk).pk == world.archive.pk
    archive = Archive.objects.get(pk=world.archive.pk)
    assert (archive.mailbox_id, archive.removed_at) == (mailbox.pk, None)
    # it leaves the page of archives of deleted mailboxes
    assert manager.get(DELETED_ARCHIVES).context["rows"] == []
    # the owner reads it again, as owner (put back included)
    assert [a.pk for a in archives_for(user=mailbox.user)] == [archive.pk]
    assert archive_access(user=mailbox.user, archive_id=archive.pk).is_owner
    owner = portal_login("ceo@acme.test", MAILBOX_PASSWORD)
    assert owner.get("/archive/")["Location"] == f"/archive/a/{archive.pk}/"
    # it journals again, as before the deletion, and is billed as the mailbox's archive
    assert mailbox.archive_plan.archive_id == archive.pk
    journal(mailbox, raw("after-undelete", date="Mon, 30 Nov 2026 10:00:00 +0100"))
    assert archive.messages.count() == 4
    billed = BilledArchive.objects.get(mailbox_key=mailbox.pk)
    assert billed.mailbox_id == mailbox.pk
    assert AuditEntry.objects.filter(action="archive.relink", target="ceo@acme.test").count() == 1


def test_an_undeleted_mailbox_gets_back_a_removed_archive_without_journaling_it(deleted):
    # given the archive of the deleted mailbox removed by the Manager (readable 30 more days)
    world = deleted
    archive_remove_orphan(archive=world.archive, confirm_address="ceo@acme.test", actor=world.manager_user)

    mailbox = archive_mailbox_undelete(deleted=DeletedMailbox.objects.get(local_part="ceo"))

    # the owner reads it again until the purge, but it stays removed: no journaling, no charge
    archive = Archive.objects.get(pk=world.archive.pk)
    assert archive.mailbox_id == mailbox.pk and archive.removed_at is not None
    assert [a.pk for a in archives_for(user=mailbox.user)] == [archive.pk]
    assert not ArchivePlan.objects.filter(mailbox=mailbox).exists()
    assert not BilledArchive.objects.filter(mailbox_key=mailbox.pk).exists()


def test_an_undeleted_mailbox_whose_kept_archive_was_not_billed_is_billed_from_now(deleted):
    # given an archive kept from before archives of deleted mailboxes were billed
    world = deleted
    BilledArchive.objects.filter(mailbox_key=world.owner.pk).delete()

    mailbox = archive_mailbox_undelete(deleted=DeletedMailbox.objects.get(local_part="ceo"))

    # it journals again, so it is billed again, from now
    assert mailbox.archive_plan.archive_id == world.archive.pk
    assert BilledArchive.objects.get(mailbox_key=mailbox.pk).mailbox_id == mailbox.pk
    assert LedgerEvent.objects.filter(kind="archive_attached", target="ceo@acme.test").count() == 2


def test_the_manager_edits_a_delegate_and_keeps_changes_or_revokes_its_grant_on_a_deleted_mailbox(deleted):
    world = deleted
    manager = panel_client(world.manager_user)
    url = f"/mailadmin/delegates/{world.full.pk}/"
    data = {"name": "Full Auditor", "email": "full@auditors.test", "expires_on": "2099-01-01"}
    field = f"kept_{world.owner.pk}"

    # the list and the form show the grant on the deleted mailbox's archive
    listing = manager.get("/mailadmin/delegates/").content.decode()
    assert "ceo@acme.test (Full content, archive of a deleted mailbox)" in listing
    form = manager.get(url)
    assert form.context["form"][field].value() == "full"

    # an edit that leaves it as it is keeps it (the live mailboxes' grants are replaced)
    assert manager.post(url, data | {field: "full"}).status_code == 302
    assert DelegateGrant.objects.get(delegate=world.full).access == "full"
    # it can be narrowed to headers, then revoked: the Delegate reads nothing more of it
    assert manager.post(url, data | {field: "headers"}).status_code == 302
    assert archive_access(user=world.full.user, archive_id=world.archive.pk).full is False
    assert manager.post(url, data | {field: ""}).status_code == 302
    assert not DelegateGrant.objects.filter(delegate=world.full).exists()
    with pytest.raises(Http404):
        archive_access(user=world.full.user, archive_id=world.archive.pk)
    entry = AuditEntry.objects.filter(action="delegate.update").latest("pk")
    assert entry.after["grants_revoked"] == ["ceo@acme.test"]
