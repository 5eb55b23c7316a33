"""A sync state's UIDs as IMAP sequence sets (devices.uidsets): what is packed comes back."""

from __future__ import annotations

import importlib

import pytest

from devices.models import Device, DeviceFolder, SyncState
from devices.uidsets import items_pack, items_unpack, uids_pack, uids_unpack
from tests.factories import MailboxFactory


def test_items_are_packed_by_flag_bits_as_ranges_and_come_back():
    # given what a device holds: mostly unread, a few read, one flagged, one read and flagged
    known = {uid: 0 for uid in range(1, 10_001)}
    known.update({17: 1, 18: 1, 19: 1, 500: 2, 9_999: 3})
    # when packed
    packed = items_pack(known)
    # then each bit pattern is one short sequence set, and unpacking gives the same items
    assert packed == {"0": "1:16,20:499,501:9998,10000", "1": "17:19", "2": "500", "3": "9999"}
    assert items_unpack(packed) == known


def test_uid_sets_round_trip_and_empty_ones():
    assert uids_pack([9, 3, 5, 4]) == "3:5,9"
    assert uids_unpack("3:5,9") == [3, 4, 5, 9]
    assert uids_pack([]) == "" and uids_unpack("") == [] and items_unpack({}) == {}


@pytest.mark.django_db
def test_the_migration_packs_a_state_of_one_key_per_uid():
    # given a state written before 0004: one JSON key per UID, and a pending of the old shape
    from django.apps import apps

    migration = importlib.import_module("devices.migrations.0004_sync_state_items_as_uid_sets")
    device = Device.objects.create(mailbox=MailboxFactory(), device_id="OLD1")
    folder = DeviceFolder.objects.create(device=device, server_id=1, name="INBOX", folder_type=2)
    old = SyncState.objects.create(
        folder=folder, items={"1": 0, "2": 0, "3": 1, "7": 2}, pending={"added": [9, 8]}, highestmodseq=5
    )
    # when the migration runs (twice: it leaves packed states alone)
    migration.forwards(apps, None)
    migration.forwards(apps, None)
    # then the items are sequence sets and the pending is unknown (the next Sync lists once)
    old.refresh_from_db()
    assert old.items == {"0": "1:2", "1": "3", "2": "7"}
    assert old.pending is None
    # and backwards gives the old shape again
    migration.backwards(apps, None)
    old.refresh_from_db()
    assert old.items == {"1": 0, "2": 0, "3": 1, "7": 2}
