"""What a Delegate sees: only the granted archives, inside the grant's message-date window,
until the Delegate expires; a "headers only" grant never gives the body, the attachments, the
source, the .eml or an export (refused by archiving.selectors, whatever the template shows).
Every Delegate read is audited; the owner's are not."""

import datetime as dt

import pytest
from django.utils import timezone

from archiving.models import ArchivedMessage
from core.models import AuditEntry
from domains.models import Delegate

pytestmark = pytest.mark.django_db


def page_ids(response) -> set[int]:
    return {row["id"] for row in response.context["page"]}


def test_a_delegate_lands_on_the_granted_archive(world, full_client):
    response = full_client.get("/archive/")
    assert (response.status_code, response["Location"]) == (302, f"/archive/a/{world.archive.pk}/")


# -- the window ---------------------------------------------------------------------------------


def test_window_list_shows_only_messages_inside(world, full_client, owner_client):
    a = world.archive.pk
    years = full_client.get(f"/archive/a/{a}/").context["years"]
    assert years == [{"year": 2025, "received": 1, "sent": 1}]
    assert full_client.get(f"/archive/a/{a}/2024/received/").context["page"].paginator.count == 0
    assert page_ids(full_client.get(f"/archive/a/{a}/2025/received/")) == {world.inside.pk}
    # the owner sees 2024 too
    assert page_ids(owner_client.get(f"/archive/a/{a}/2024/received/")) == {world.old.pk}


@pytest.mark.parametrize("suffix", ["", "body/", "source/", "eml/", "part/2/"])
def test_window_refuses_a_message_outside(world, full_client, suffix):
    response = full_client.get(f"/archive/a/{world.archive.pk}/m/{world.old.pk}/{suffix}")
    assert response.status_code == 404
    assert b"old-contract" not in response.content


def test_window_search_and_export_leave_out_messages_outside(world, full_client):
    a = world.archive.pk
    found = full_client.get(f"/archive/a/{a}/search/", {"q": "contract"})  # both have contract.pdf
    assert page_ids(found) == {world.inside.pk}
    response = full_client.post(
        f"/archive/a/{a}/export/", {"id": [world.old.pk, world.inside.pk], "format": "mbox"}
    )
    content = b"".join(response.streaming_content)
    assert b"Subject: budget" in content and b"old-contract" not in content


def test_an_expired_delegate_reads_nothing(world, full_client):
    a = world.archive.pk
    assert full_client.get(f"/archive/a/{a}/").status_code == 200
    Delegate.objects.filter(pk=world.full.pk).update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    for url in (
        f"/archive/a/{a}/",
        f"/archive/a/{a}/2025/received/",
        f"/archive/a/{a}/m/{world.inside.pk}/",
        f"/archive/a/{a}/m/{world.inside.pk}/eml/",
    ):
        assert full_client.get(url).status_code == 404, url
    response = full_client.post(f"/archive/a/{a}/export/", {"id": [world.inside.pk]})
    assert response.status_code == 404


def test_a_revoked_grant_applies_at_once(world, full_client):
    world.full.grants.all().delete()
    assert full_client.get(f"/archive/a/{world.archive.pk}/m/{world.inside.pk}/").status_code == 404


# -- headers only -------------------------------------------------------------------------------


def test_headers_only_list_and_open_show_headers_and_nothing_else(world, headers_client):
    a = world.archive.pk
    listing = headers_client.get(f"/archive/a/{a}/2025/received/", {"sort": "size"})
    assert listing.status_code == 200
    [row] = listing.context["page"]
    assert set(row) == {
        "id",
        "seq",
        "folder",
        "message_date",
        "archived_at",
        "sender",
        "recipients",
        "subject",
        "when",
    }
    opened = headers_client.get(f"/archive/a/{a}/m/{world.inside.pk}/")
    assert opened.status_code == 200
    assert b"budget" in opened.content and b"alice@far.example" in opened.content
    assert b"zanzibar" not in opened.content and b"contract.pdf" not in opened.content
    assert "m" not in opened.context


@pytest.mark.parametrize("suffix", ["body/", "source/", "eml/", "part/2/"])
def test_headers_only_refuses_content(world, headers_client, suffix):
    response = headers_client.get(f"/archive/a/{world.archive.pk}/m/{world.inside.pk}/{suffix}")
    assert response.status_code == 403
    assert b"zanzibar" not in response.content and b"JVBERi0" not in response.content


@pytest.mark.parametrize("fmt", ["zip", "mbox"])
def test_headers_only_refuses_export(world, headers_client, fmt):
    a = world.archive.pk
    url = f"/archive/a/{a}/export/"
    assert headers_client.post(url, {"id": [world.inside.pk], "format": fmt}).status_code == 403
    assert headers_client.post(url, {"scope": "search", "q": "budget", "format": fmt}).status_code == 403


def test_headers_only_search_never_matches_the_body(world, headers_client, full_client):
    a = world.archive.pk
    # "zanzibar" is only in the body: the full grant finds it, the headers-only grant does not
    assert page_ids(full_client.get(f"/archive/a/{a}/search/", {"q": "zanzibar"})) == {world.inside.pk}
    assert page_ids(headers_client.get(f"/archive/a/{a}/search/", {"q": "zanzibar"})) == set()
    # nor an attachment's name, while a subject word is found
    assert page_ids(headers_client.get(f"/archive/a/{a}/search/", {"q": "contract"})) == set()
    assert page_ids(headers_client.get(f"/archive/a/{a}/search/", {"q": "budget"})) == {world.inside.pk}
    # the has-attachment filter is not offered, and asking for it is refused
    page = headers_client.get(f"/archive/a/{a}/search/", {"q": "budget"})
    assert "attachment" not in page.context["form"].fields


def test_headers_only_selector_refuses_the_attachment_filter(world):
    from archiving.search import SearchFilters
    from archiving.selectors import ContentRefused, archive_access, search_entries

    access = archive_access(user=world.headers.user, archive_id=world.archive.pk)
    with pytest.raises(ContentRefused):
        search_entries(access, text="", filters=SearchFilters(has_attachment=True))


# -- the audit ----------------------------------------------------------------------------------


def test_every_delegate_action_is_audited(world, full_client):
    a, e = world.archive.pk, world.inside.pk
    AuditEntry.objects.all().delete()
    full_client.get(f"/archive/a/{a}/2025/received/")
    full_client.get(f"/archive/a/{a}/search/", {"q": "budget"})
    full_client.get(f"/archive/a/{a}/m/{e}/")
    full_client.get(f"/archive/a/{a}/m/{e}/source/")
    full_client.get(f"/archive/a/{a}/m/{e}/eml/")
    full_client.get(f"/archive/a/{a}/m/{e}/part/2/")
    b"".join(full_client.post(f"/archive/a/{a}/export/", {"id": [e], "format": "zip"}).streaming_content)
    rows = list(AuditEntry.objects.order_by("pk"))
    assert [r.action for r in rows] == [
        "archive.delegate.list",
        "archive.delegate.search",
        "archive.delegate.open",
        "archive.delegate.source",
        "archive.delegate.eml",
        "archive.delegate.attachment",
        "archive.delegate.export",
    ]
    assert {r.actor_label for r in rows} == {"full.auditor"}
    assert {r.target for r in rows} == {"ceo@acme.test"}
    assert {r.domain_id for r in rows} == {world.owner.domain_id}
    assert rows[2].after == {"archive": a, "count": 1, "entries": [world.inside.seq]}


def test_the_owner_sees_who_read_and_the_manager_sees_it_in_the_panel(world, full_client, owner_client):
    from tests.panel.conftest import panel_client, postmaster_of

    full_client.get(f"/archive/a/{world.archive.pk}/m/{world.inside.pk}/")
    readers = owner_client.get(f"/archive/a/{world.archive.pk}/readers/")
    assert [(r.actor_label, r.action) for r in readers.context["page"]] == [
        ("full.auditor", "archive.delegate.open"),
    ]
    manager = panel_client(world.manager_user)
    page = manager.get("/mailadmin/d/acme.test/archive-reads/")
    assert page.status_code == 200
    assert [(r.actor_label, r.action) for r in page.context["page"]][:1] == [
        ("full.auditor", "archive.delegate.open")
    ]
    # the Postmaster is not the Manager: the page is not theirs
    postmaster = panel_client(postmaster_of(world.owner.domain).user)
    assert postmaster.get("/mailadmin/d/acme.test/archive-reads/").status_code in (403, 404)


def test_a_delegate_cannot_see_the_readers_page(world, full_client):
    assert full_client.get(f"/archive/a/{world.archive.pk}/readers/").status_code == 403


def test_reads_change_nothing_in_the_archive(world, full_client):
    before = list(ArchivedMessage.objects.order_by("pk").values_list("pk", "entry_hash", "blob_id"))
    full_client.get(f"/archive/a/{world.archive.pk}/m/{world.inside.pk}/eml/")
    after = list(ArchivedMessage.objects.order_by("pk").values_list("pk", "entry_hash", "blob_id"))
    assert before == after


def test_the_panel_page_of_archive_reads_with_four_clients(world, full_client):
    from django.test import Client

    from tests.factories import DomainFactory, ManagerFactory
    from tests.panel.conftest import panel_client, postmaster_of

    full_client.get(f"/archive/a/{world.archive.pk}/m/{world.inside.pk}/")
    url = "/mailadmin/d/acme.test/archive-reads/"
    other_domain = DomainFactory(name="elsewhere.test")
    other_manager = ManagerFactory(
        customer=other_domain.customer, domains=[other_domain], username="boss.else"
    )
    clients = {
        "anonymous": (Client(), 302),
        "another domain's postmaster": (panel_client(postmaster_of(other_domain).user), 404),
        "another customer's manager": (panel_client(other_manager.user), 404),
        "same domain, not the Manager": (panel_client(postmaster_of(world.owner.domain).user), 403),
        "the Manager": (panel_client(world.manager_user), 200),
    }
    for who, (client, status) in clients.items():
        response = client.get(url)
        assert response.status_code == status, who
        assert (b"full.auditor" in response.content) == (status == 200), who


@pytest.mark.parametrize(
    "filters,expected",
    [
        ({"sender": "ALICE@far"}, {"inside"}),
        ({"recipient": "far.example"}, {"sent"}),
        ({"folder": "sent"}, {"sent"}),
        ({"since": dt.datetime(2025, 6, 20, tzinfo=dt.UTC)}, {"sent"}),
        ({"before": dt.datetime(2025, 6, 20, tzinfo=dt.UTC)}, {"inside"}),
        ({"sender": "nobody"}, set()),
    ],
    ids=["from", "to", "folder", "since", "before", "no match"],
)
def test_headers_only_and_full_searches_filter_alike(world, filters, expected):
    """Same filters, same meaning, whichever the grant (one filter helper, archiving.search)."""
    from archiving.search import SearchFilters
    from archiving.selectors import archive_access, search_entries

    ids = {getattr(world, name).pk for name in expected}
    for delegate in (world.full, world.headers):
        access = archive_access(user=delegate.user, archive_id=world.archive.pk)
        found = {row["id"] for row in search_entries(access, text="", filters=SearchFilters(**filters))}
        assert found == ids, delegate.user.username
