"""What a mail login Dovecot reports (through the auth-policy endpoint, internal/auth_policy.py)
changes: the brute-force counters, the access log, the mailbox's last login and the matched app
password's last use. A domains service because it touches Mailbox; the endpoint only parses."""

import logging

from django.db import DatabaseError, transaction

from accounts import bruteforce
from accounts.models import AccessLogEntry
from accounts.services import access_log_record, app_password_touch
from domains.models import Mailbox

logger = logging.getLogger(__name__)


def mail_login_report(
    *,
    login: str,
    protocol: str,
    remote_ip: str | None,
    tls: bool,
    success: bool,
    policy_reject: bool,
    fail_type: str,
    password_fingerprint: str,
    app_password_id: int | None,
) -> None:
    """Record one finished mail login. Neither Redis nor the database being down makes it fail:
    Dovecot's answer to the client does not wait on the bookkeeping (a warning is logged)."""
    Result = AccessLogEntry.Result
    if success:
        result, reason = Result.SUCCESS, ""
    elif policy_reject:
        result, reason = Result.BLOCKED, "blocked"
    else:
        result, reason = Result.FAILURE, fail_type
    try:
        if result == Result.SUCCESS:
            bruteforce.record_success(login=login)
        elif result == Result.FAILURE:
            bruteforce.record_failure(
                login=login, remote_ip=remote_ip, password_fingerprint=password_fingerprint
            )
    except bruteforce.BruteforceUnavailable as exc:
        logger.warning("auth policy: brute-force counters unavailable: %s", exc)
    try:
        with transaction.atomic():
            entry = access_log_record(
                login=login, protocol=protocol, remote_ip=remote_ip, tls=tls, result=result, reason=reason
            )
            if result == Result.SUCCESS and entry.user_id is not None:
                Mailbox.objects.filter(user_id=entry.user_id).update(last_login_at=entry.at)
                # Scoped to this user, so a stray id touches nothing else.
                if app_password_id is not None:
                    app_password_touch(app_password_id=app_password_id, user_id=entry.user_id)
    except DatabaseError as exc:
        logger.warning("auth policy: access log unavailable: %s", exc)
