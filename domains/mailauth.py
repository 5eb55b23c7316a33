"""The credential check of mail protocols served by the project itself (SMTP AUTH, ActiveSync).

Same rules as Dovecot's passdbs (mailstore SQL views): an active mailbox of an active domain;
an app password (SHA-256, checked first, cheap) always works; the main password (Argon2) works
only when 2FA is off and no first-login change is pending. Every attempt is counted by
accounts.bruteforce and written to the access log. Synchronous: the SMTP server calls it through
sync_to_async.

No timing oracle: every refusal spends exactly one Argon2 verification (an unknown login, an
inactive mailbox or domain, a revoked app password included), so a refusal takes as long as a
wrong password. A successful main-password verification fills the verified-credential cache
shared with Dovecot (mailstore.authcache); a later login with the same password is then one
keyed hash in PostgreSQL instead of Argon2.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import DatabaseError
from django.utils import timezone

from accounts import bruteforce
from accounts.logins import canonical_login
from accounts.models import AccessLogEntry, AppPassword
from accounts.services import access_log_record, app_password_touch, token_hash
from domains.models import Domain, Mailbox
from domains.twofactor import requires_2fa
from mailstore.authcache import credential_cache_fill, credential_cache_match

logger = logging.getLogger(__name__)

MAIL_PROTOCOLS = {"imap", "pop3", "sieve", "smtp", "submission", "activesync"}

# Reasons written to the access log (and returned in AuthResult.reason).
OK_PASSWORD = "password"  # noqa: S105 - a log reason, not a secret
OK_APP_PASSWORD = "app_password"  # noqa: S105 - a log reason, not a secret
BLOCKED = "blocked"
UNKNOWN_USER = "unknown_user"
BAD_PASSWORD = "bad_password"  # noqa: S105 - a log reason, not a secret
MAILBOX_INACTIVE = "mailbox_inactive"
DOMAIN_INACTIVE = "domain_inactive"
APP_PASSWORD_REVOKED = "app_password_revoked"  # noqa: S105 - a log reason, not a secret
TWO_FACTOR_REQUIRED = "2fa_required"
MUST_CHANGE_PASSWORD = "must_change_password"  # noqa: S105 - a log reason, not a secret
BACKEND_UNAVAILABLE = "backend_unavailable"


@dataclass
class AuthResult:
    ok: bool
    user: Any = None
    mailbox: Mailbox | None = None
    reason: str = ""
    temporary: bool = False


_dummy_hash: str | None = None


def _spend_like_a_password_check(password: str) -> None:
    """An unknown login costs the same Argon2 time as a known one, so timing does not tell
    which addresses exist (Django's ModelBackend does the same)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = make_password("not-a-real-password")
    check_password(password, _dummy_hash)


def _find_mailbox(login: str) -> Mailbox | None:
    """The mailbox of a login in any IDNA-equivalent spelling (accounts.logins)."""
    local_part, at, domain_name = canonical_login(login).rpartition("@")
    if not at or not local_part or not domain_name:
        return None
    return (
        Mailbox.objects.select_related("user", "domain")
        .filter(local_part=local_part, domain__name=domain_name)
        .first()
    )


def _log(*, login, protocol, remote_ip, tls, result, reason, user=None, domain=None) -> None:
    try:
        access_log_record(
            login=login,
            protocol=protocol,
            remote_ip=remote_ip,
            tls=tls,
            result=result,
            reason=reason,
            user=user,
            domain_id=domain.pk if domain is not None else None,
        )
    except DatabaseError:
        logger.warning("access log unavailable: %s %s %s %s", login, protocol, result, reason)


def _domain_of_login(login: str) -> Domain | None:
    _, at, domain_name = login.rpartition("@")
    if not at:
        return None
    return Domain.objects.filter(name=domain_name).first()


def authenticate_mail(
    login: str, password: str, *, protocol: str, remote_ip: str | None, tls: bool
) -> AuthResult:
    if protocol not in MAIL_PROTOCOLS:
        raise ValueError(f"authenticate_mail: not a mail protocol: {protocol!r}")
    login = bruteforce.normalize_login(login)
    password = password or ""
    Result = AccessLogEntry.Result
    log = dict(login=login, protocol=protocol, remote_ip=remote_ip, tls=tls)

    def temporary(exc: Exception) -> AuthResult:
        logger.warning("mail authentication for %s unavailable: %s", login, exc)
        # `log` holds the user and domain once the mailbox was found (the database failed later)
        _log(**{"user": None, "domain": None, **log}, result=Result.FAILURE, reason=BACKEND_UNAVAILABLE)
        return AuthResult(ok=False, reason=BACKEND_UNAVAILABLE, temporary=True)

    try:
        verdict = bruteforce.check(login=login, remote_ip=remote_ip)
    except bruteforce.BruteforceUnavailable as exc:
        return temporary(exc)

    try:
        mailbox = _find_mailbox(login)
        user = mailbox.user if mailbox else None
        domain = mailbox.domain if mailbox else _domain_of_login(login)
        log.update(user=user, domain=domain)

        if verdict.blocked:
            _log(**log, result=Result.BLOCKED, reason=BLOCKED)
            return AuthResult(ok=False, user=user, mailbox=mailbox, reason=BLOCKED)

        ok, reason = _check_credentials(mailbox, password)
    except DatabaseError as exc:
        return temporary(exc)

    try:
        if ok:
            bruteforce.record_success(login=login)
        else:
            bruteforce.record_failure(
                login=login,
                remote_ip=remote_ip,
                password_fingerprint=bruteforce.password_fingerprint(login=login, password=password),
            )
    except bruteforce.BruteforceUnavailable as exc:
        return temporary(exc)

    try:
        if ok:
            Mailbox.objects.filter(pk=mailbox.pk).update(last_login_at=timezone.now())
        _log(**log, result=Result.SUCCESS if ok else Result.FAILURE, reason=reason)
    except DatabaseError as exc:
        return temporary(exc)
    return AuthResult(ok=ok, user=user, mailbox=mailbox, reason=reason)


def _spend_on(user, password: str) -> bool:
    """One Argon2 verification against the user's own hash (the dummy one if it has none)."""
    if user is None or not user.has_usable_password():
        _spend_like_a_password_check(password)
        return False
    return check_password(password, user.password)


def _check_credentials(mailbox: Mailbox | None, password: str) -> tuple[bool, str]:
    if mailbox is None:
        _spend_like_a_password_check(password)
        return False, UNKNOWN_USER
    user = mailbox.user
    if not mailbox.is_active or not user.is_active:
        _spend_on(user, password)
        return False, MAILBOX_INACTIVE
    if not mailbox.domain.is_active:
        _spend_on(user, password)
        return False, DOMAIN_INACTIVE

    # App passwords first: a SHA-256 lookup is cheap, Argon2 is not (same order as Dovecot's passdbs).
    app_password = (
        AppPassword.objects.filter(user=user, token_hash=token_hash(password))
        .only("id", "revoked_at")
        .first()
    )
    if app_password is not None:
        if app_password.revoked_at is not None:
            _spend_on(user, password)
            return False, APP_PASSWORD_REVOKED
        app_password_touch(app_password_id=app_password.pk)
        return True, OK_APP_PASSWORD

    main_password_allowed = not user.must_change_password and not requires_2fa(user)
    # The cache holds only logins the rules allowed, but the rules are checked again here (and
    # in the function's SQL): a row never outlives them.
    if main_password_allowed and credential_cache_match(
        user_id=user.pk, login=mailbox.address, password=password
    ):
        return True, OK_PASSWORD
    stored_hash = user.password
    if not _spend_on(user, password):
        return False, BAD_PASSWORD
    if user.must_change_password:
        return False, MUST_CHANGE_PASSWORD
    if not main_password_allowed:
        return False, TWO_FACTOR_REQUIRED
    credential_cache_fill(login=mailbox.address, password=password, stored_hash=stored_hash)
    return True, OK_PASSWORD
