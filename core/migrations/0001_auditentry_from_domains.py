"""AuditEntry moves from domains to core without moving a row: the model state is created here
over the existing table (domains_auditentry, created by domains.0001), and domains.0003 removes
it from the domains state. No SQL runs."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("domains", "0002_domain_manager_same_customer"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="when")),
                        ("actor_label", models.CharField(blank=True, default="", max_length=254, verbose_name="who")),
                        ("action", models.CharField(max_length=64, verbose_name="what")),
                        ("target", models.CharField(blank=True, default="", max_length=254, verbose_name="object")),
                        ("before", models.JSONField(blank=True, null=True, verbose_name="before")),
                        ("after", models.JSONField(blank=True, null=True, verbose_name="after")),
                        ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("customer", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="domains.customer")),
                        ("domain", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="domains.domain")),
                    ],
                    options={
                        "verbose_name": "audit entry",
                        "verbose_name_plural": "audit log",
                        "db_table": "domains_auditentry",
                        "ordering": ["-at", "-id"],
                        "indexes": [
                            models.Index(fields=["domain", "-at"], name="audit_domain_at_idx"),
                            models.Index(fields=["customer", "-at"], name="audit_customer_at_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
