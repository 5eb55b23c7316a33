"""The legal hold is set in the back office (the archives' page), through its service, audited;
nothing else of an archive can be changed there, and no archive added or deleted."""

import pytest

from archiving.models import Archive
from core.models import AuditEntry
from tests.test_admin import post_form, staff_client  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_staff_set_the_legal_hold_in_the_back_office(staff_client, archived_mailbox):  # noqa: F811
    # given an archive
    mailbox, archive = archived_mailbox(retention_years=3)
    url = f"/backoffice/archive/archive/{archive.pk}/change/"

    # when staff tick "legal hold" (and try to change the retention, a read-only field)
    response = post_form(staff_client, url, {"legal_hold": "on", "retention_years": "1"})

    # then the hold is set, the retention unchanged, an audit row says who did it
    assert response.status_code == 302, response.content.decode()[:2000]
    archive.refresh_from_db()
    assert (archive.legal_hold, archive.retention_years) == (True, 3)
    entry = AuditEntry.objects.get(action="archive.legal_hold")
    assert (entry.actor_label, entry.target, entry.before, entry.after) == (
        "staff",
        mailbox.address,
        {"legal_hold": False},
        {"legal_hold": True},
    )


def test_archives_cannot_be_added_or_deleted_in_the_back_office(staff_client, archived_mailbox):  # noqa: F811
    _, archive = archived_mailbox()
    assert staff_client.get("/backoffice/archive/archive/add/").status_code == 403
    assert staff_client.get(f"/backoffice/archive/archive/{archive.pk}/delete/").status_code == 403
    assert Archive.objects.filter(pk=archive.pk).exists()
