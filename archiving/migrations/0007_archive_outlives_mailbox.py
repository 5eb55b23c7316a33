"""An archive outlives its mailbox (issue 13): it keeps the mailbox's id (Delegates' grants find
it by that) and its domain (the Manager sees and removes it there)."""

import django.db.models.deletion
from django.db import migrations, models


def fill_archives(apps, schema_editor):
    Archive = apps.get_model("archive", "Archive")
    Domain = apps.get_model("domains", "Domain")
    for archive in Archive.objects.select_related("mailbox"):
        if archive.mailbox is not None:
            archive.mailbox_key = archive.mailbox_id
            archive.domain_id = archive.mailbox.domain_id
        else:  # its mailbox deleted before this migration: its domain by the address
            archive.domain = Domain.objects.filter(name=archive.address.rpartition("@")[2].lower()).first()
        archive.save(update_fields=["mailbox_key", "domain"])


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0006_search_indexes"),
        ("domains", "0008_delegate_grant_outlives_mailbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="archive",
            name="mailbox_key",
            field=models.BigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="archive",
            name="domain",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="domains.domain",
                verbose_name="domain",
            ),
        ),
        migrations.RunPython(fill_archives, migrations.RunPython.noop),
    ]
