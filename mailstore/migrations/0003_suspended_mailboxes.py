"""Suspended mailboxes (domains 0004): a suspended mailbox that still receives mail keeps its row in
mailstore_mailuser (Dovecot's userdb finds it, so LMTP delivers and the quota applies) but can never
log in: its `password` is NULL (the main passdb and the verified-credential cache both require a
password) and its app passwords leave mailstore_mailapppassword. The new column `can_login` is
appended, so the contract's earlier columns keep their order. A suspended mailbox that refuses mail
has no row at all, as before."""

from django.db import migrations

MAILUSER_VIEW_V3 = """
CREATE OR REPLACE VIEW mailstore_mailuser AS
SELECT
    m.id AS mailbox_id,
    u.id AS user_id,
    (m.local_part || '@' || d.name)::varchar(254) AS login,
    m.local_part::varchar(64) AS local_part,
    d.name::varchar(253) AS domain,
    CASE WHEN m.is_active AND u.is_active AND u.password LIKE 'argon2$argon2id$%'
        THEN '{ARGON2ID}' || substr(u.password, 7) END AS password,
    COALESCE(q.bytes, m.quota_tier::bigint * 1073741824) AS quota_bytes,
    (m.require_2fa OR d.require_2fa OR EXISTS (
        SELECT 1 FROM otp_totp_totpdevice t WHERE t.user_id = u.id AND t.confirmed
    )) AS require_2fa,
    u.must_change_password AS must_change_password,
    md5(u.password)::char(32) AS credential_generation,
    (m.is_active AND u.is_active) AS can_login
FROM domains_mailbox m
JOIN domains_domain d ON d.id = m.domain_id
JOIN accounts_user u ON u.id = m.user_id
LEFT JOIN mailstore_quotaoverride q ON q.mailbox_id = m.id
WHERE d.is_active AND ((m.is_active AND u.is_active) OR m.receive_while_suspended);

CREATE OR REPLACE VIEW mailstore_mailapppassword AS
SELECT mu.login, mu.local_part, mu.domain, a.id AS app_password_id, a.token_hash::char(64) AS token_hash
FROM mailstore_mailuser mu
JOIN accounts_apppassword a ON a.user_id = mu.user_id
WHERE a.revoked_at IS NULL AND mu.can_login;
"""

# Back to 0002's definitions: a column cannot be dropped with CREATE OR REPLACE.
MAILUSER_VIEW_V2 = """
DROP VIEW mailstore_mailapppassword;
DROP VIEW mailstore_mailuser;
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
    )) AS require_2fa,
    u.must_change_password AS must_change_password,
    md5(u.password)::char(32) AS credential_generation
FROM domains_mailbox m
JOIN domains_domain d ON d.id = m.domain_id
JOIN accounts_user u ON u.id = m.user_id
LEFT JOIN mailstore_quotaoverride q ON q.mailbox_id = m.id
WHERE m.is_active AND d.is_active AND u.is_active;
CREATE VIEW mailstore_mailapppassword AS
SELECT mu.login, mu.local_part, mu.domain, a.id AS app_password_id, a.token_hash::char(64) AS token_hash
FROM mailstore_mailuser mu
JOIN accounts_apppassword a ON a.user_id = mu.user_id
WHERE a.revoked_at IS NULL;
"""


def grant_views(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.conf import settings

    role = schema_editor.connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT ON mailstore_mailuser, mailstore_mailapppassword TO {role}")


class Migration(migrations.Migration):
    dependencies = [
        ("mailstore", "0002_must_change_and_credential_cache"),
        ("domains", "0004_mailbox_suspension"),
    ]

    operations = [
        migrations.RunSQL(MAILUSER_VIEW_V3, MAILUSER_VIEW_V2),
        migrations.RunPython(grant_views, grant_views),
    ]
