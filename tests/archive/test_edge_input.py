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
