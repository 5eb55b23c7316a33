"""Phones and tablets that sync a mailbox over ActiveSync, and their sync state.

A Device is one (mailbox, device id) pair: the same phone on two mailboxes is two devices, each
with its own policy key, state and folders. Its folders (DeviceFolder) give each IMAP folder a
short, stable EAS id for that device; a SyncState per folder remembers what the device was last
told (sync key, UIDVALIDITY, the UIDs it holds with their read/flag state) and the last answer,
so that a request repeating the previous sync key gets that answer again (MS-ASCMD)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Device(models.Model):
    class State(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        BLOCKED = "blocked", _("Blocked")
        WIPE_REQUESTED = "wipe_requested", _("Remote wipe requested")
        WIPED = "wiped", _("Wiped")

    mailbox = models.ForeignKey(
        "domains.Mailbox", on_delete=models.CASCADE, related_name="devices", verbose_name=_("mailbox")
    )
    device_id = models.CharField(_("device id"), max_length=64)
    device_type = models.CharField(_("device type"), max_length=64, blank=True, default="")
    model = models.CharField(_("model"), max_length=200, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=200, blank=True, default="")
    user_agent = models.CharField(_("user agent"), max_length=200, blank=True, default="")
    friendly_name = models.CharField(_("name"), max_length=200, blank=True, default="")
    protocol_version = models.CharField(_("protocol version"), max_length=8, blank=True, default="")
    # The key the device must send (X-MS-PolicyKey) once provisioned; the temporary one of step 1.
    policy_key = models.BigIntegerField(_("policy key"), null=True, blank=True)
    pending_policy_key = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ALLOWED)
    folder_sync_key = models.PositiveIntegerField(default=0)
    # The last Ping's parameters: a Ping without a body (or without Folders) repeats them.
    ping_heartbeat = models.PositiveIntegerField(default=0)
    ping_folders = models.JSONField(default=list)
    # The last Sync request with collections, less their Commands (WBXML): a Sync without a
    # body repeats it (MS-ASCMD Sync), with each folder's current sync key.
    sync_request = models.BinaryField(null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    wipe_requested_at = models.DateTimeField(_("remote wipe requested"), null=True, blank=True)
    wiped_at = models.DateTimeField(_("wiped"), null=True, blank=True)

    class Meta:
        verbose_name = _("mobile device")
        verbose_name_plural = _("mobile devices")
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "device_id"], name="device_unique_per_mailbox"),
            models.CheckConstraint(
                condition=models.Q(state__in=["allowed", "blocked", "wipe_requested", "wiped"]),
                name="device_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} ({self.device_type})"


class DeviceFolder(models.Model):
    """An IMAP folder as one device knows it: `server_id` is the EAS ServerId/CollectionId."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="folders")
    server_id = models.PositiveIntegerField()
    name = models.CharField(max_length=1000)  # the IMAP name
    parent_server_id = models.PositiveIntegerField(default=0)  # 0: top level
    folder_type = models.PositiveSmallIntegerField()  # MS-ASCMD FolderHierarchy Type
    # False: removed from the mailbox and reported to the device as deleted (ids are not reused).
    present = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "server_id"], name="devicefolder_unique_id"),
            models.UniqueConstraint(
                fields=["device", "name"], condition=models.Q(present=True), name="devicefolder_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.server_id} {self.name}"


class SyncState(models.Model):
    """What a device holds of one folder, as of its current sync key."""

    folder = models.OneToOneField(DeviceFolder, on_delete=models.CASCADE, related_name="sync_state")
    sync_key = models.PositiveIntegerField(default=0)
    uidvalidity = models.BigIntegerField(default=0)
    # The UIDs of every message the device was sent, by their flag bits (1 read, 2 flagged) as
    # it holds them: {"0": "1:4999,5003", "1": "5000:5002"} (IMAP sequence sets,
    # devices.uidsets: a big folder's state is a few bytes, not one key per message).
    items = models.JSONField(default=dict)
    # STATUS of the folder as of the last listing of it (Ping compares these). `highestmodseq`
    # is the point that listing was complete up to: the next Sync asks IMAP only for what
    # changed since (CONDSTORE/QRESYNC).
    uidnext = models.BigIntegerField(default=0)
    highestmodseq = models.BigIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    # What the device still lacks as of `highestmodseq` and was not sent yet (MoreAvailable):
    # {"deleted": "UIDs", "changed": {UID: bits}, "added": "UIDs"} (sequence sets; the added
    # ones are sent newest first). With `items`
    # it is the whole picture at `highestmodseq`, so a later Sync adds only what changed
    # since. None: not known (before the first listing), the next Sync lists the folder.
    pending = models.JSONField(null=True, blank=True, default=None)
    # True when the device was sent everything up to `highestmodseq` (no MoreAvailable): a Sync
    # that finds the folder's HIGHESTMODSEQ unchanged then has nothing to list.
    complete = models.BooleanField(default=False)
    # The body the device asked for ({"type": 1|2|4, "truncation": bytes or null}): a device
    # sends its Options once and expects them to hold for the next Syncs of the folder.
    body_preference = models.JSONField(default=dict)
    # The device's FilterType (MS-ASCMD Sync Options: 0 all, 1 one day … 5 one month), held like
    # the body preference; and the day (SEARCH SINCE, activesync.window) of the window the device was last
    # given messages of (None: no window). Another day means the window moved: look again.
    filter_type = models.PositiveSmallIntegerField(default=0)
    window_since = models.DateField(null=True, blank=True)
    # The answer (WBXML of the Collection element) given for the request that made `sync_key`,
    # sent again when the device repeats the previous key.
    last_response = models.BinaryField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.folder} @ {self.sync_key}"


class SentMessage(models.Model):
    """A SendMail's ClientId, so that a phone retrying a send whose answer it lost does not
    send the message twice."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="sent_messages")
    client_id = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "client_id"], name="sentmessage_unique_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.client_id}"
