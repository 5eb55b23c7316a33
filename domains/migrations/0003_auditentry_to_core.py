"""AuditEntry now belongs to core (core.0001 took over the table domains_auditentry); this
only removes it from the domains state. No SQL runs, no row moves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0002_domain_manager_same_customer"),
        ("core", "0001_auditentry_from_domains"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]
