"""The first-login password change in the views, and the verified-credential cache.

- mailstore_mailuser gains `must_change_password` (appended: the contract's earlier columns keep
  their order). Dovecot's main-password passdb answers nologin with a reason for such a row.
- The verified-credential cache (docs/architecture.md, "Passwords and Dovecot"): after one
  successful Argon2 verification, the same login and password are accepted for a bounded time
  at the cost of one HMAC-SHA-256 computed inside PostgreSQL. Two UNLOGGED tables (a cache: never
  in WAL, base backups or replicas; emptied by a crash, which only costs one Argon2 per login):
  * mailstore_authcachekey: one random 32-byte key, created on first use; no role but the
    owner reads it.
  * mailstore_authcache: one row per login: the user, a MAC and an expiry. The MAC is
    HMAC(key', password) with key' = HMAC(key, login LF stored-hash): it binds the password to
    the hash it was verified against, so a new password (a new stored hash) never matches an
    old row even before the service's DELETE commits.
  Dovecot's role reaches them only through two SECURITY DEFINER functions:
  * mailstore_authcache_match(user_id, login, password) → boolean: a live row whose MAC matches
    (a hit never extends the row);
  * mailstore_authcache_fill(local_part, domain, password, generation, ttl) → boolean: called
    after the main password verified; writes the row only if the mailbox is still allowed the
    main password (active, 2FA off, no pending change) and `generation` (md5 of the verified
    stored hash) is still the current one (a password changed meanwhile is not cached).
"""

from django.conf import settings
from django.db import migrations

MAILUSER_VIEW_V2 = """
CREATE OR REPLACE VIEW mailstore_mailuser AS
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
WHERE m.is_active AND d.is_active AND u.is_active
"""

MAILUSER_VIEW_V1 = """
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
    )) AS require_2fa
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

# Longest life a cache row may get, whatever a caller asks (the setting is validated too).
MAX_TTL_SECONDS = 86400

CACHE_SQL = f"""
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE UNLOGGED TABLE mailstore_authcachekey (
    id smallint PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL CHECK (octet_length(key) = 32)
);
CREATE UNLOGGED TABLE mailstore_authcache (
    login varchar(254) PRIMARY KEY,
    user_id bigint NOT NULL,
    mac bytea NOT NULL CHECK (octet_length(mac) = 32),
    expires_at timestamptz NOT NULL
);
REVOKE ALL ON mailstore_authcachekey, mailstore_authcache FROM PUBLIC;

CREATE FUNCTION mailstore_authcache_mac(p_login text, p_password text, p_stored text, p_key bytea)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, public AS $$
    SELECT hmac(convert_to(p_password, 'UTF8'),
                hmac(convert_to(p_login || E'\\n' || p_stored, 'UTF8'), p_key, 'sha256'),
                'sha256')
$$;

CREATE FUNCTION mailstore_authcache_match(p_user_id bigint, p_login text, p_password text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (
        SELECT 1
        FROM mailstore_authcache c
        JOIN accounts_user u ON u.id = c.user_id
        CROSS JOIN mailstore_authcachekey k
        WHERE c.login = p_login AND c.user_id = p_user_id AND c.expires_at > now()
          AND c.mac = mailstore_authcache_mac(p_login, p_password, u.password, k.key)
    )
$$;

CREATE FUNCTION mailstore_authcache_fill(
    p_local_part text, p_domain text, p_password text, p_generation text, p_ttl integer
) RETURNS boolean LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_user_id bigint;
    v_login text;
    v_stored text;
    v_key bytea;
BEGIN
    IF p_ttl IS NULL OR p_ttl <= 0 OR p_password IS NULL OR p_password = '' THEN
        RETURN false;
    END IF;
    SELECT mu.user_id, mu.login, u.password INTO v_user_id, v_login, v_stored
    FROM mailstore_mailuser mu JOIN accounts_user u ON u.id = mu.user_id
    WHERE mu.domain = p_domain AND mu.local_part = p_local_part
      AND NOT mu.require_2fa AND NOT mu.must_change_password AND mu.password IS NOT NULL
      AND mu.credential_generation = p_generation;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO mailstore_authcachekey (id, key) VALUES (1, gen_random_bytes(32))
    ON CONFLICT (id) DO NOTHING;
    SELECT key INTO v_key FROM mailstore_authcachekey WHERE id = 1;
    INSERT INTO mailstore_authcache (login, user_id, mac, expires_at)
    VALUES (v_login, v_user_id, mailstore_authcache_mac(v_login, p_password, v_stored, v_key),
            now() + make_interval(secs => least(p_ttl, {MAX_TTL_SECONDS})))
    ON CONFLICT (login) DO UPDATE
        SET user_id = EXCLUDED.user_id, mac = EXCLUDED.mac, expires_at = EXCLUDED.expires_at;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION mailstore_authcache_mac(text, text, text, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION mailstore_authcache_match(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION mailstore_authcache_fill(text, text, text, text, integer) FROM PUBLIC;
"""

CACHE_SQL_REVERSE = """
DROP FUNCTION IF EXISTS mailstore_authcache_fill(text, text, text, text, integer);
DROP FUNCTION IF EXISTS mailstore_authcache_match(bigint, text, text);
DROP FUNCTION IF EXISTS mailstore_authcache_mac(text, text, text, bytea);
DROP TABLE IF EXISTS mailstore_authcache;
DROP TABLE IF EXISTS mailstore_authcachekey;
"""


def grant_functions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    role = schema_editor.connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT ON mailstore_mailuser TO {role}")
        cursor.execute(
            "GRANT EXECUTE ON FUNCTION mailstore_authcache_match(bigint, text, text), "
            f"mailstore_authcache_fill(text, text, text, text, integer) TO {role}"
        )


def grant_views_v1(apps, schema_editor):
    """Reverse of the view change: the re-created views get the role's SELECT back."""
    if schema_editor.connection.vendor != "postgresql":
        return
    role = schema_editor.connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT ON mailstore_mailuser, mailstore_mailapppassword TO {role}")


class Migration(migrations.Migration):
    dependencies = [
        ("mailstore", "0001_initial"),
        ("accounts", "0002_accesslogentry_apppassword"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, grant_views_v1),
        migrations.RunSQL(MAILUSER_VIEW_V2, MAILUSER_VIEW_V1),
        migrations.RunSQL(CACHE_SQL, CACHE_SQL_REVERSE),
        migrations.RunPython(grant_functions, migrations.RunPython.noop),
    ]
