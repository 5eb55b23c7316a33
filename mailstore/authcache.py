"""The verified-credential cache, one for Dovecot's logins and the project's SMTP AUTH.

After one successful Argon2 verification of a mailbox's main password, the same login and
password are accepted for `MAIL_AUTH_CACHE_SECONDS` at the cost of one HMAC-SHA-256 computed by
PostgreSQL with a server key no login role can read (migration mailstore 0002, which documents
the functions). Dovecot calls the same functions from its passdbs (mailstore.dovecot_config).

Only a success fills it; a hit never extends it; `credential_cache_forget` runs in the
transaction of every change that must end it at once (password, 2FA, active flag). The rows
bind the password to the stored hash it was verified against, so a changed password never
matches an old row in any case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import connection


def credential_cache_seconds() -> int:
    return max(0, int(settings.MAIL_AUTH_CACHE_SECONDS))


def credential_generation(stored_hash: str) -> str:
    """The generation of a stored password hash, as the mailstore_mailuser view computes it."""
    return hashlib.md5(stored_hash.encode("utf-8"), usedforsecurity=False).hexdigest()


def credential_cache_match(*, user_id: int, login: str, password: str) -> bool:
    """True when a live row says this login verified this very password (and stored hash)."""
    if credential_cache_seconds() == 0 or not password:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT mailstore_authcache_match(%s, %s, %s)", [user_id, login, password])
        return bool(cursor.fetchone()[0])


def credential_cache_fill(*, login: str, password: str, stored_hash: str) -> bool:
    """Remember a successful verification of `password` against `stored_hash`. The function
    re-checks the mailbox's rules (active, 2FA off, no pending change, same stored hash)."""
    seconds = credential_cache_seconds()
    if seconds == 0 or not password:
        return False
    local_part, _, domain = login.rpartition("@")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mailstore_authcache_fill(%s, %s, %s, %s, %s)",
            [local_part, domain, password, credential_generation(stored_hash), seconds],
        )
        return bool(cursor.fetchone()[0])


def credential_cache_forget(*, user_ids: Iterable[int] = (), domain_name: str | None = None) -> int:
    """Drop the rows of these users (or of every login of a domain); call it inside the
    transaction that changes the password, the 2FA state or the active flag."""
    deleted = 0
    with connection.cursor() as cursor:
        ids = [int(pk) for pk in user_ids]
        if ids:
            cursor.execute("DELETE FROM mailstore_authcache WHERE user_id = ANY(%s)", [ids])
            deleted += cursor.rowcount
        if domain_name:
            cursor.execute(
                "DELETE FROM mailstore_authcache WHERE split_part(login, '@', 2) = %s", [domain_name]
            )
            deleted += cursor.rowcount
    return deleted
