"""Bad input gets a clear answer, never a 500: out-of-range years, unknown folders and sorts,
dates in the wrong order, junk ids."""

import pytest

pytestmark = pytest.mark.django_db


def test_bad_input(world, owner_client):
    a = world.archive.pk
    assert owner_client.get(f"/archive/a/{a}/99999/received/").status_code == 404
    assert owner_client.get(f"/archive/a/{a}/0/received/").status_code == 404
    assert owner_client.get(f"/archive/a/{a}/2025/trash/").status_code == 404
    junk = {"sort": "password", "page": "x"}
    assert owner_client.get(f"/archive/a/{a}/2025/received/", junk).status_code == 200
    page = owner_client.get(f"/archive/a/{a}/search/", {"since": "2025-12-01", "until": "2025-01-01"})
    assert page.status_code == 400
    assert page.context["form"].non_field_errors() == ["The start date is after the end date."]
    assert owner_client.get(f"/archive/a/{a}/search/", {"since": "yesterday"}).status_code == 400
    response = owner_client.post(f"/archive/a/{a}/export/", {"id": ["x", "-1"], "format": "tar"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Select at least one message to export."]
    assert owner_client.get(f"/archive/a/{a}/m/{world.inside.pk}/part/99/").status_code == 404


def test_an_export_of_a_search_takes_every_match_not_only_the_page(world, owner_client, monkeypatch):
    import io
    import zipfile

    from archive.views import browse

    monkeypatch.setattr(browse, "SEARCH_LIMIT", 1)
    page = owner_client.get(f"/archive/a/{world.archive.pk}/search/", {"q": "", "folder": "received"})
    assert page.context["limited"] and len(page.context["page"]) == 1
    response = owner_client.post(
        f"/archive/a/{world.archive.pk}/export/", {"scope": "search", "q": "", "folder": "received"}
    )
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert len(zf.namelist()) == 3  # both received messages and the manifest


def test_the_search_asks_for_one_page_and_one_more_and_pages_on(
    world, owner_client, full_client, monkeypatch
):
    """A page of results costs the rows up to it and one more (the first page: 51, not the 500 a
    search may show); the number of pages shows once the last is reached; the audit records the
    rows shown."""
    from archive.views import browse
    from archiving import selectors
    from archiving.indexing import archive_index_pending
    from core.models import AuditEntry
    from tests.archive.conftest import journal, raw

    monkeypatch.setattr(browse, "PER_PAGE", 4)
    for n in range(9):  # with "zanzibar" already in one: ten matches
        journal(
            world.owner, raw(f"trip-{n}", date=f"Mon, {n + 1:02d} Sep 2025 10:00:00 +0200", body="zanzibar")
        )
    archive_index_pending()
    asked = []
    real = selectors.search_entries

    def counting(*args, **kwargs):
        asked.append(kwargs["limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(selectors, "search_entries", counting)
    url = f"/archive/a/{world.archive.pk}/search/"
    first = owner_client.get(url, {"q": "zanzibar"})
    assert asked == [5]
    assert [r["subject"] for r in first.context["page"]] == ["trip-8", "trip-7", "trip-6", "trip-5"]
    assert first.context["page"].has_next() and not first.context["complete"]
    assert "More than 4 messages found" in first.content.decode() and "Page 1<" in first.content.decode()
    full_client.get(url, {"q": "zanzibar"})  # a Delegate's search: the rows it was shown, audited
    audit = AuditEntry.objects.filter(action__endswith=".search").latest("id")
    assert audit.after["count"] == 4 and len(audit.after["entries"]) == 4
    second = owner_client.get(url, {"q": "zanzibar", "page": 2})
    assert asked[-1] == 9 and len(second.context["page"]) == 4 and second.context["page"].has_next()
    last = owner_client.get(url, {"q": "zanzibar", "page": 3})
    page = last.context["page"]
    assert [r["subject"] for r in page] == ["trip-0", "budget"] and not page.has_next()
    assert last.context["complete"] and "10 messages found" in last.content.decode()
    assert "Page 3 of 3" in last.content.decode()
    # past the end: the last page
    assert [r["subject"] for r in owner_client.get(url, {"q": "zanzibar", "page": 7}).context["page"]] == [
        "trip-0",
        "budget",
    ]
