"""Provision (MS-ASPROV): the two-step policy key, and the remote wipe.

Step 1, the device asks for the policy: it gets the policy document and a temporary key. Step 2,
it acknowledges that key: it gets its final key, which every other command must carry
(X-MS-PolicyKey). When a wipe was requested (devices.services.device_wipe_request) the answer is
RemoteWipe instead; the device confirms it did wipe with a Provision carrying RemoteWipe/Status."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.commands import BadRequest, expect
from activesync.context import Context, element
from activesync.numbers import number
from devices.models import Device
from devices.services import (
    device_information_set,
    device_provision_accept,
    device_provision_offer,
    device_wipe_done,
)

P = "{Provision}"
S = "{Settings}"
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"

# The policy: the suite asks nothing of the device (no PIN, no encryption). Said explicitly,
# as Exchange does, because some devices refuse an empty document.
POLICY = (
    ("DevicePasswordEnabled", "0"),
    ("AlphanumericDevicePasswordRequired", "0"),
    ("PasswordRecoveryEnabled", "0"),
    ("RequireStorageCardEncryption", "0"),
    ("AttachmentsEnabled", "1"),
    ("MinDevicePasswordLength", "1"),
    ("MaxInactivityTimeDeviceLock", "0"),
    ("MaxDevicePasswordFailedAttempts", "0"),
    ("AllowSimpleDevicePassword", "1"),
    ("DevicePasswordExpiration", "0"),
    ("DevicePasswordHistory", "0"),
    ("AllowStorageCard", "1"),
    ("AllowCamera", "1"),
    ("RequireDeviceEncryption", "0"),
    ("AllowUnsignedApplications", "1"),
    ("AllowUnsignedInstallationPackages", "1"),
    ("AllowWiFi", "1"),
    ("AllowTextMessaging", "1"),
    ("AllowPOPIMAPEmail", "1"),
    ("AllowBluetooth", "2"),
    ("AllowIrDA", "1"),
    ("RequireManualSyncWhenRoaming", "0"),
    ("AllowDesktopSync", "1"),
    ("MaxCalendarAgeFilter", "0"),
    ("AllowHTMLEmail", "1"),
    ("MaxEmailAgeFilter", "0"),
    ("RequireSignedSMIMEMessages", "0"),
    ("RequireEncryptedSMIMEMessages", "0"),
    ("AllowSMIMESoftCerts", "1"),
    ("AllowBrowser", "1"),
    ("AllowConsumerEmail", "1"),
    ("AllowRemoteDesktop", "1"),
    ("AllowInternetSharing", "1"),
)


def _device_information(context: Context, request: Element) -> None:
    info = request.find(f"{S}DeviceInformation/{S}Set")
    if info is None:
        return
    device_information_set(
        device=context.device,
        model=info.findtext(f"{S}Model") or "",
        os=info.findtext(f"{S}OS") or "",
        friendly_name=info.findtext(f"{S}FriendlyName") or "",
        user_agent=info.findtext(f"{S}UserAgent") or "",
    )


def provision(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{P}Provision")
    device = context.device
    _device_information(context, request)

    wipe_ack = request.find(f"{P}RemoteWipe")
    if wipe_ack is not None:
        if device.state == Device.State.WIPE_REQUESTED and wipe_ack.findtext(f"{P}Status") == "1":
            device_wipe_done(device=device)
        return element(f"{P}Provision", None, element(f"{P}Status", 1), element(f"{P}RemoteWipe"))
    if device.state in (Device.State.WIPE_REQUESTED, Device.State.WIPED):
        # A wiped device that comes back is told again: it must not get the mailbox back
        # until someone allows it (the management pages reset its state).
        return element(f"{P}Provision", None, element(f"{P}Status", 1), element(f"{P}RemoteWipe"))

    policy = request.find(f"{P}Policies/{P}Policy")
    if policy is None:
        raise BadRequest("Provision without Policies/Policy")
    policy_type = policy.findtext(f"{P}PolicyType") or ""
    if policy_type != POLICY_TYPE:
        return _policy_answer(policy_type, 3)  # Policy Status 3: unknown policy type
    acknowledged = policy.findtext(f"{P}PolicyKey")
    if acknowledged is None:
        key = device_provision_offer(device=device)
        document_element = element(f"{P}EASProvisionDoc", None, *(element(f"{P}{n}", v) for n, v in POLICY))
        return _policy_answer(
            POLICY_TYPE, 1, element(f"{P}PolicyKey", key), element(f"{P}Data", None, document_element)
        )
    temporary = number(acknowledged)
    final = device_provision_accept(device=device, temporary_key=temporary) if temporary is not None else None
    if final is None:
        # An unknown temporary key: the device starts over at step 1 (Policy Status 5: invalid key).
        return _policy_answer(POLICY_TYPE, 5)
    return _policy_answer(POLICY_TYPE, 1, element(f"{P}PolicyKey", final))


def _policy_answer(policy_type: str, status: int, *more: Element) -> Element:
    """Provision Status 1 with one Policy: its type, its status and what else it carries."""
    return element(
        f"{P}Provision",
        None,
        element(f"{P}Status", 1),
        element(
            f"{P}Policies",
            None,
            element(
                f"{P}Policy",
                None,
                element(f"{P}PolicyType", policy_type),
                element(f"{P}Status", status),
                *more,
            ),
        ),
    )
