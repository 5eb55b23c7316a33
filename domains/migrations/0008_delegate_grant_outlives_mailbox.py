"""A Delegate's grant outlives its mailbox (issue 13: the archive does): the mailbox link
becomes nullable (SET_NULL) and the grant keeps the mailbox's id, address and domain."""

import django.db.models.deletion
from django.db import migrations, models


def fill_grants(apps, schema_editor):
    DelegateGrant = apps.get_model("domains", "DelegateGrant")
    for grant in DelegateGrant.objects.select_related("mailbox__domain"):
        mailbox = grant.mailbox
        grant.mailbox_key = mailbox.pk
        grant.address = f"{mailbox.local_part}@{mailbox.domain.name}"
        grant.domain_id = mailbox.domain_id
        grant.save(update_fields=["mailbox_key", "address", "domain"])


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0007_mailbox_suspension_db_default"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="delegategrant", name="delegate_grant_unique"),
        migrations.AddField(
            model_name="delegategrant",
            name="mailbox_key",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="delegategrant",
            name="address",
            field=models.CharField(max_length=320, default="", verbose_name="address"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="delegategrant",
            name="domain",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="domains.domain",
            ),
        ),
        migrations.RunPython(fill_grants, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="delegategrant",
            name="mailbox_key",
            field=models.BigIntegerField(),
        ),
        migrations.AlterField(
            model_name="delegategrant",
            name="domain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="domains.domain"
            ),
        ),
        migrations.AlterField(
            model_name="delegategrant",
            name="mailbox",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="delegate_grants",
                to="domains.mailbox",
            ),
        ),
        migrations.AddConstraint(
            model_name="delegategrant",
            constraint=models.UniqueConstraint(
                fields=("delegate", "mailbox_key"), name="delegate_grant_unique"
            ),
        ),
    ]
