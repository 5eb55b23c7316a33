"""The Manager's delegate form refuses a login that squats an address (issue 9, item 11), with a
localized error on the login field, and creates nothing."""

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import User
from domains.models import Delegate
from domains.services import mailbox_create
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db


def form_data(username: str) -> dict:
    return {"name": "Auditor", "email": "auditor@example.test", "username": username,
            "password": "Auditor-Pass-2026", "expires_on": "2030-01-01"}


MESSAGE = (
    "Only a mailbox has an email address as its login: choose a login without “@” "
    "(for example anna.rossi)."
)


@pytest.mark.parametrize("language", ["en", "it"])
def test_a_delegate_login_equal_to_another_customers_address_is_refused(
    world, manager_client, language
):
    # given a Manager of acme.test and another customer's other.test
    # when the Manager tries to give a Delegate the login ceo@other.test
    response = manager_client.post(reverse("mailadmin:delegate_create"), form_data("ceo@other.test"),
                                   HTTP_ACCEPT_LANGUAGE=language)
    # then the form comes back with the error on the login field, and nothing was created
    assert response.status_code == 400
    with translation.override(language):  # the catalogue's translation (the lead merges the .po)
        assert response.context["form"].errors == {"username": [gettext(MESSAGE)]}
    assert not Delegate.objects.exists() and not User.objects.filter(kind="delegate").exists()
    # and the other customer can still create that mailbox
    assert mailbox_create(domain=world.foreign, local_part="ceo", password=MAILBOX_PASSWORD)


def test_a_delegate_login_without_at_sign_is_created(world, manager_client):
    response = manager_client.post(reverse("mailadmin:delegate_create"), form_data("Auditor.Acme"))
    assert response.status_code == 302
    assert Delegate.objects.get().user.username == "auditor.acme"
