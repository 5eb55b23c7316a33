import pytest

pytestmark = pytest.mark.django_db


def test_owner_sees_years(world, owner_client):
    r = owner_client.get("/archive/")
    assert r.status_code == 302
    r = owner_client.get(r["Location"])
    assert r.status_code == 200
    assert [y["year"] for y in r.context["years"]] == [2025, 2024]
