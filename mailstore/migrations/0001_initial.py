"""Mail store tables, the read-only PostgreSQL role of Dovecot and the SQL views it reads.

The views are the contract between the models and Dovecot (tests/mailstore/test_sql_contract.py):
- mailstore_mailuser: one row per active mailbox of an active domain, with its login, the main
  password in Dovecot's format ({ARGON2ID} + the part after Django's "argon2"; NULL for a hash
  Dovecot cannot verify), the quota in bytes and the 2FA flag (mailbox or domain requirement, or
  a confirmed TOTP device). With 2FA on, Dovecot's main-password passdb skips the row.
- mailstore_mailapppassword: one row per active app password of such a mailbox (SHA-256 hex).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MAILUSER_VIEW = """
CREATE VIEW mailstore_mailuser AS
SELECT
    m.id AS mailbox_id,
    u.id AS user_id,
    (m.local_part || '@' || d.name)::varchar(254) AS login,
    m.local_part::varchar(64) AS local_part,
    d.name::varchar(253) AS domain,
    CASE WHEN u.password LIKE 'argon2$argon2id$%' THEN '{ARGON2ID}' || substr(u.password, 7) END AS password,
    COALESCE(q.bytes, m.quota_tier::bigint * 1073741824) AS quota_bytes,
    (m.require_2fa OR d.require_2fa OR EXISTS (
        SELECT 1 FROM otp_totp_totpdevice t WHERE t.user_id = u.id AND t.confirmed
    )) AS require_2fa
FROM domains_mailbox m
JOIN domains_domain d ON d.id = m.domain_id
JOIN accounts_user u ON u.id = m.user_id
LEFT JOIN mailstore_quotaoverride q ON q.mailbox_id = m.id
WHERE m.is_active AND d.is_active AND u.is_active
"""

APPPASSWORD_VIEW = """
CREATE VIEW mailstore_mailapppassword AS
SELECT mu.login, mu.local_part, mu.domain, a.id AS app_password_id, a.token_hash::char(64) AS token_hash
FROM mailstore_mailuser mu
JOIN accounts_apppassword a ON a.user_id = mu.user_id
WHERE a.revoked_at IS NULL
"""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_role_and_grants(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    role = schema_editor.connection.ops.quote_name(settings.DOVECOT_DB_USER)
    password = settings.DOVECOT_DB_PASSWORD
    with schema_editor.connection.cursor() as cursor:
        # The role is cluster-wide and several databases (tests running in parallel) may create
        # it at the same moment: a concurrent creation is not an error.
        cursor.execute(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(settings.DOVECOT_DB_USER)}) THEN "
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        if password:
            cursor.execute(f"ALTER ROLE {role} PASSWORD {_literal(password)}")
        cursor.execute(f"GRANT SELECT ON mailstore_mailuser, mailstore_mailapppassword TO {role}")
        # quota_clone keeps its copy of the usage up to date: the one table the role writes.
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON mailstore_quotausage TO {role}")


def revoke_grants(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    role = schema_editor.connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [settings.DOVECOT_DB_USER])
        if cursor.fetchone():
            cursor.execute(f"REVOKE ALL ON mailstore_quotausage FROM {role}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("domains", "0002_domain_manager_same_customer"),
        ("accounts", "0002_accesslogentry_apppassword"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuotaUsage",
            fields=[
                (
                    "username",
                    models.CharField(
                        max_length=254, primary_key=True, serialize=False, verbose_name="address"
                    ),
                ),
                ("bytes", models.BigIntegerField(default=0, verbose_name="bytes used")),
                ("messages", models.BigIntegerField(default=0, verbose_name="messages")),
            ],
            options={
                "verbose_name": "quota usage",
                "verbose_name_plural": "quota usage",
                "db_table": "mailstore_quotausage",
            },
        ),
        migrations.CreateModel(
            name="QuotaOverride",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("bytes", models.BigIntegerField(verbose_name="space in bytes")),
                (
                    "mailbox",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="quota_override",
                        to="domains.mailbox",
                        verbose_name="mailbox",
                    ),
                ),
            ],
            options={
                "verbose_name": "quota override",
                "verbose_name_plural": "quota overrides",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("bytes__gt", 0)), name="quotaoverride_bytes_positive"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="QuotaWarning",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("username", models.CharField(max_length=254, verbose_name="address")),
                ("level", models.PositiveSmallIntegerField(verbose_name="level (%)")),
                ("sent_at", models.DateTimeField(auto_now_add=True, verbose_name="sent")),
            ],
            options={
                "verbose_name": "quota warning",
                "verbose_name_plural": "quota warnings",
                "constraints": [
                    models.UniqueConstraint(fields=("username", "level"), name="quotawarning_once_per_level"),
                    models.CheckConstraint(
                        condition=models.Q(("level__gt", 0), ("level__lte", 100)),
                        name="quotawarning_level_percent",
                    ),
                ],
            },
        ),
        migrations.RunSQL(MAILUSER_VIEW, "DROP VIEW IF EXISTS mailstore_mailuser"),
        migrations.RunSQL(APPPASSWORD_VIEW, "DROP VIEW IF EXISTS mailstore_mailapppassword"),
        migrations.RunPython(create_role_and_grants, revoke_grants),
    ]
