"""A mailbox's phones in the control panel, four clients: anonymous (the login), another
customer's admin and an admin of the same customer without rights on the domain (404, nothing
named, nothing changed), the domain's Postmaster and Manager (listed; block, allow, wipe; audited)."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEntry
from devices.models import Device
from tests.factories import MailboxFactory
from tests.panel.conftest import panel_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone(world):
    victim = MailboxFactory(domain=world.domain, local_part="victim")
    return Device.objects.create(
        mailbox=victim, device_id="ApplSECRET01", device_type="iPhone", model="iPhone15,2", os="iOS 17.4"
    )


def test_device_actions_refuse_outsiders(world, phone):
    url = reverse("mailadmin:mailbox_device", args=[world.domain.name, phone.mailbox.pk, phone.pk])
    page = reverse("mailadmin:mailbox", args=[world.domain.name, phone.mailbox.pk])
    outsiders = {
        "anonymous": Client(),
        "other customer": panel_client(world.foreign_postmaster.user),
        "same customer, no rights": panel_client(world.sibling_postmaster.user),
    }
    for who, client in outsiders.items():
        for action in ("block", "wipe", "allow"):
            response = client.post(url, {"action": action})
            if who == "anonymous":
                assert response.status_code == 302 and response["Location"].startswith("/mailadmin/login/")
            else:
                assert response.status_code == 404, who
                assert b"ApplSECRET01" not in response.content
        if who != "anonymous":
            assert client.get(page).status_code == 404
    phone.refresh_from_db()
    assert phone.state == Device.State.ALLOWED
    assert not AuditEntry.objects.filter(action__startswith="device.").exists()


def test_postmaster_and_manager_block_allow_and_wipe(world, phone, manager_client, postmaster_client):
    mailbox = phone.mailbox
    url = reverse("mailadmin:mailbox_device", args=[world.domain.name, mailbox.pk, phone.pk])
    page = postmaster_client.get(reverse("mailadmin:mailbox", args=[world.domain.name, mailbox.pk]))
    assert page.status_code == 200 and b"ApplSECRET01" in page.content and b"iOS 17.4" in page.content
    assert postmaster_client.get(url).status_code == 405
    assert postmaster_client.post(url, {"action": "block"}).status_code == 302
    phone.refresh_from_db()
    assert phone.state == Device.State.BLOCKED
    assert manager_client.post(url, {"action": "allow"}).status_code == 302
    assert manager_client.post(url, {"action": "wipe"}).status_code == 302
    phone.refresh_from_db()
    assert phone.state == Device.State.WIPE_REQUESTED
    assert manager_client.post(url, {"action": "nonsense"}).status_code == 400
    # a device of another mailbox of the same domain, through this mailbox's URL: 404
    other = MailboxFactory(domain=world.domain, local_part="other")
    stray = Device.objects.create(mailbox=other, device_id="ANDROID42")
    stray_url = reverse("mailadmin:mailbox_device", args=[world.domain.name, mailbox.pk, stray.pk])
    assert postmaster_client.post(stray_url, {"action": "block"}).status_code == 404
    stray.refresh_from_db()
    assert stray.state == Device.State.ALLOWED
    actions = AuditEntry.objects.filter(action__startswith="device.").order_by("pk")
    expected = ["device.block", "device.allow", "device.wipe_request"]
    assert list(actions.values_list("action", flat=True)) == expected
