"""Hostile query strings on the panel's list pages: a clear answer, never a 500."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessLogEntry

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.mark.parametrize("page", ["access_log", "tracemail"])
@pytest.mark.parametrize("csv", [False, True], ids=["page", "csv"])
def test_a_last_day_at_the_end_of_the_calendar_is_refused_not_a_crash(world, manager_client, page, csv):
    # given the last representable day as "until" (the selector adds one day to it)
    url = reverse(f"mailadmin:{page}", args=[world.domain.name]) + "?until=9999-12-31"
    # when the admin filters (or exports) with it
    response = manager_client.get(url + ("&format=csv" if csv else ""), **EN)
    # then the page answers 400 and names the problem; no CSV is produced
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Ensure this value is less than or equal to 9998-12-31." in response.content.decode()


def test_an_invalid_date_does_not_drop_the_other_filters(world, manager_client):
    # given two attempts on the domain, one a failure
    for login, result in (("alice@acme.test", "success"), ("mallory@acme.test", "failure")):
        AccessLogEntry.objects.create(
            at=timezone.now(), login=login, protocol="imap", result=result, domain=world.domain
        )
    url = reverse("mailadmin:access_log", args=[world.domain.name])
    # when the admin searches "mallory" with a bad start date
    response = manager_client.get(url, {"q": "mallory", "since": "not-a-date"}, **EN)
    # then the error is shown and the search still applies
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid date." in body
    assert "mallory@acme.test" in body and "alice@acme.test" not in body


def test_an_unknown_protocol_or_result_filter_is_ignored(world, manager_client):
    AccessLogEntry.objects.create(
        at=timezone.now(), login="alice@acme.test", protocol="imap", result="success", domain=world.domain
    )
    url = reverse("mailadmin:access_log", args=[world.domain.name])
    # when the filters carry a NUL byte (PostgreSQL refuses it in a text comparison)
    response = manager_client.get(url, {"protocol": "imap\x00", "result": "\x00"})
    # then they are ignored like any value outside the lists
    assert response.status_code == 200
    assert "alice@acme.test" in response.content.decode()


def test_a_nul_byte_in_the_mailbox_search_is_not_a_crash(world, manager_client):
    url = reverse("mailadmin:mailboxes", args=[world.domain.name])
    response = manager_client.get(url, {"q": "post\x00master"})
    assert response.status_code == 200
    assert "postmaster@acme.test" in response.content.decode()
