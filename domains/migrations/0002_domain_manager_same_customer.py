"""The database itself refuses a Manager of another customer: Domain(manager_id, customer_id)
references Manager(id, customer_id). Django has no composite foreign keys, hence raw SQL."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("domains", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(
                "ALTER TABLE domains_domain ADD CONSTRAINT domain_manager_same_customer "
                "FOREIGN KEY (manager_id, customer_id) REFERENCES domains_manager (id, customer_id) "
                "ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED"
            ),
            reverse_sql="ALTER TABLE domains_domain DROP CONSTRAINT domain_manager_same_customer",
        ),
    ]
