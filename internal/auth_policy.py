"""Dovecot's authentication policy server (auth_policy_server_url).

Dovecot POSTs JSON to `?command=allow` before authentication (and again after a successful
one) and to `?command=report` at the end with `success` and `policy_reject`. `allow` answers
from Redis only (no database, no password hashing): a blocked login or address gets
{"status": -1}. `report` writes the access-log row and counts failures.

Fields come from auth_policy_request_attributes; the mailstore config sends
login, remote, protocol, plus `tls` (Dovecot adds it when TLS was used) and may send `master`
(%{master_user}): logins of the project's own services through the master user are neither
logged nor counted here (the service logs its own portal login).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponseForbidden, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import bruteforce
from core.internal_endpoints import internal_caller_allowed
from domains.services.mail_logins import mail_login_report

logger = logging.getLogger(__name__)

# Dovecot service names (%s) → access-log protocol. Anything else (doveadm, lmtp) is not a login.
PROTOCOLS = {"imap": "imap", "pop3": "pop3", "sieve": "sieve", "managesieve": "sieve",
             "submission": "submission", "smtp": "smtp"}


def _flag(value: object) -> bool:
    """Dovecot booleans arrive as JSON true/false, or as strings when set through attributes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "tls", "secured", "trusted"}
    return False


def _reply(status: int, msg: str = "") -> JsonResponse:
    return JsonResponse({"status": status, "msg": msg})


@csrf_exempt
@require_POST
def auth_policy(request: HttpRequest) -> JsonResponse | HttpResponseForbidden:
    if not internal_caller_allowed(request):
        return HttpResponseForbidden()
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return JsonResponse({"status": 0, "msg": "bad request"}, status=400)

    command = request.GET.get("command", "")
    login = bruteforce.normalize_login(str(data.get("login") or ""))
    remote_ip = str(data.get("remote") or "") or None
    if data.get("master") or not login:
        return _reply(0)

    if command == "allow":
        try:
            verdict = bruteforce.check(login=login, remote_ip=remote_ip)
        except bruteforce.BruteforceUnavailable as exc:
            # settings.AUTH_POLICY_FAIL_MODE: "closed" refuses the login (the check could not be
            # made); "open" lets Dovecot check the password alone, without blocking.
            if settings.AUTH_POLICY_FAIL_MODE == "open":
                logger.error("auth policy: brute-force counters unavailable, login allowed "
                             "(MAILSUITE_AUTH_POLICY_FAIL_MODE=open): %s", exc)
                return _reply(0)
            logger.error("auth policy: brute-force counters unavailable, login refused "
                         "(MAILSUITE_AUTH_POLICY_FAIL_MODE=closed): %s", exc)
            return _reply(-1, _("Logins are temporarily unavailable. Try again later."))
        if verdict.blocked:
            return _reply(-1, _("Too many failed logins. Try again later."))
        return _reply(0)

    if command == "report":
        _report(data, login=login, remote_ip=remote_ip)
        return _reply(0)

    return JsonResponse({"status": 0, "msg": "unknown command"}, status=400)


def _report(data: dict, *, login: str, remote_ip: str | None) -> None:
    protocol = PROTOCOLS.get(str(data.get("protocol") or "").lower())
    if protocol is None:
        return
    # app_password: the id of the app password that matched (the passdb query's field);
    # pwhash: Dovecot's truncated, nonce-keyed hash of the password tried.
    app_password_id = str(data.get("app_password") or "")
    mail_login_report(
        login=login,
        protocol=protocol,
        remote_ip=remote_ip,
        tls=_flag(data.get("tls")),
        success=_flag(data.get("success")),
        policy_reject=_flag(data.get("policy_reject")),
        fail_type=str(data.get("fail_type") or ""),
        password_fingerprint=str(data.get("pwhash") or ""),
        app_password_id=int(app_password_id) if app_password_id.isdigit() else None,
    )
