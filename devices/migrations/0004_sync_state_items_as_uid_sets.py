"""SyncState.items from one key per UID ({"17": 1}) to IMAP sequence sets by flag bits
({"1": "17"}), see devices.uidsets; `pending` is dropped (None: the next Sync lists the folder
once)."""

from django.db import migrations


def _uid_set(uids):
    parts, ordered, i = [], sorted(set(uids)), 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def forwards(apps, schema_editor):
    SyncState = apps.get_model("devices", "SyncState")
    for state in SyncState.objects.only("pk", "items").iterator():
        items = state.items or {}
        if not any(isinstance(bits, int) for bits in items.values()):
            continue  # already sequence sets
        by_bits = {}
        for uid, bits in items.items():
            by_bits.setdefault(str(int(bits)), []).append(int(uid))
        packed = {bits: _uid_set(uids) for bits, uids in by_bits.items()}
        SyncState.objects.filter(pk=state.pk).update(items=packed, pending=None)


def backwards(apps, schema_editor):
    SyncState = apps.get_model("devices", "SyncState")
    for state in SyncState.objects.only("pk", "items").iterator():
        items = {}
        for bits, text in (state.items or {}).items():
            if not isinstance(text, str):
                continue
            for part in filter(None, text.split(",")):
                low, _, high = part.partition(":")
                for uid in range(int(low), int(high or low) + 1):
                    items[str(uid)] = int(bits)
        SyncState.objects.filter(pk=state.pk).update(items=items, pending=None)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0003_sync_state_pending"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
