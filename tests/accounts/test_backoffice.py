"""Back office pages of the accounts app: access log read-only, app passwords revocable only."""

import pytest
from django.urls import reverse

from accounts.models import AppPassword
from accounts.services import access_log_record, app_password_create
from core.models import AuditEntry
from tests.backoffice import backoffice_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser("staff", "staff@example.test", "Staff-Pass-2026")
    # Through the back-office login (password + TOTP code): force_login alone no longer opens it.
    return backoffice_client(staff, "Staff-Pass-2026", client), staff


def test_access_log_list_shows_rows_and_offers_no_add(staff_client, mailbox):
    client, _ = staff_client
    access_log_record(login="mario@example.test", protocol="imap", remote_ip="192.0.2.44", tls=True,
                      result="failure", reason="bad_password")

    page = client.get(reverse("admin:accounts_accesslogentry_changelist"))
    add = client.get(reverse("admin:accounts_accesslogentry_add"))

    assert page.status_code == 200
    assert b"192.0.2.44" in page.content
    assert add.status_code == 403


def test_revoke_action_goes_through_the_service(staff_client, mailbox):
    client, staff = staff_client
    app_password, token = app_password_create(user=mailbox.user, name="Phone")

    response = client.post(reverse("admin:accounts_apppassword_changelist"),
                           {"action": "revoke", "_selected_action": [app_password.pk]})
    detail = client.get(reverse("admin:accounts_apppassword_change", args=[app_password.pk]))

    assert response.status_code == 302
    assert AppPassword.objects.get(pk=app_password.pk).revoked_at is not None
    assert AuditEntry.objects.get(action="app_password.revoke").actor == staff
    assert app_password.token_hash.encode() not in detail.content
