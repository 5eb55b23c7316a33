"""A billed archive outlives its mailbox as the archive does (issue 13): the mailbox link becomes
nullable (SET_NULL) and the row keeps the mailbox's id, domain and address."""

import django.db.models.deletion
from django.db import migrations, models


def fill_billed_archives(apps, schema_editor):
    BilledArchive = apps.get_model("billing", "BilledArchive")
    for billed in BilledArchive.objects.select_related("mailbox__domain"):
        mailbox = billed.mailbox
        billed.mailbox_key = mailbox.pk
        billed.domain_id = mailbox.domain_id
        billed.address = f"{mailbox.local_part}@{mailbox.domain.name}"
        billed.save(update_fields=["mailbox_key", "domain", "address"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("domains", "0008_delegate_grant_outlives_mailbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="billedarchive",
            name="mailbox_key",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="billedarchive",
            name="domain",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="domains.domain",
            ),
        ),
        migrations.AddField(
            model_name="billedarchive",
            name="address",
            field=models.CharField(default="", max_length=320, verbose_name="address"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_billed_archives, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="billedarchive",
            name="mailbox_key",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.AlterField(
            model_name="billedarchive",
            name="domain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="domains.domain"
            ),
        ),
        migrations.AlterField(
            model_name="billedarchive",
            name="mailbox",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="billed_archive",
                to="domains.mailbox",
            ),
        ),
    ]
