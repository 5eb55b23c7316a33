"""Phones and tablets in the webmail's settings: the owner sees their devices and blocks, allows
or remotely wipes one (audited); anonymous visitors go to the login; another mailbox, of the
same domain or another, neither sees nor changes them (404, nothing changed)."""

from django.test import Client

from core.models import AuditEntry
from devices.models import Device
from domains.models import Mailbox


def _mailbox(address: str) -> Mailbox:
    local, _, domain = address.partition("@")
    return Mailbox.objects.get(local_part=local, domain__name=domain)


def test_devices_page_and_actions_for_the_four_clients(webmail_user):
    owner = webmail_user()
    mailbox = _mailbox(owner.address)
    device = Device.objects.create(
        mailbox=mailbox, device_id="ApplSECRET01", device_type="iPhone", model="iPhone15,2", os="iOS 17.4"
    )
    # another mailbox of the same domain (no right on this mailbox), and one of another domain
    colleague = webmail_user(domain=mailbox.domain)
    stranger = webmail_user()
    url, action_url = "/webmail/settings/devices/", f"/webmail/settings/devices/{device.pk}/"

    # anonymous: the login, nothing changed
    anonymous = Client()
    response = anonymous.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/webmail/login/")
    assert anonymous.post(action_url, {"action": "block"}).status_code == 302
    # the other two: their own (empty) list, a 404 on this device, nothing changed
    for other in (colleague, stranger):
        page = other.client.get(url)
        assert page.status_code == 200 and b"ApplSECRET01" not in page.content
        for action in ("block", "wipe", "allow"):
            assert other.client.post(action_url, {"action": action}).status_code == 404
    device.refresh_from_db()
    assert device.state == Device.State.ALLOWED
    assert not AuditEntry.objects.filter(action__startswith="device.").exists()

    # the owner sees it and acts on it
    page = owner.client.get(url)
    assert page.status_code == 200 and b"ApplSECRET01" in page.content and b"iOS 17.4" in page.content
    assert owner.client.post(action_url, {"action": "block"}).status_code == 302
    device.refresh_from_db()
    assert device.state == Device.State.BLOCKED
    assert owner.client.post(action_url, {"action": "wipe"}).status_code == 302
    device.refresh_from_db()
    assert device.state == Device.State.WIPE_REQUESTED and device.wipe_requested_at is not None
    assert owner.client.post(action_url, {"action": "nonsense"}).status_code == 404
    audited = AuditEntry.objects.filter(action__startswith="device.").order_by("pk")
    assert list(audited.values_list("action", flat=True)) == ["device.block", "device.wipe_request"]
