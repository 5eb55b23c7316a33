"""Logout: revokes the session's submission token, closes its IMAP connections, drops its uploads."""

from django.contrib import auth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from mailstore.pool import POOL
from webmail import compose
from webmail.services import session_token_revoke

TOKEN_KEY = "webmail_submit_token"  # noqa: S105 - a session key name


def end_session(request: HttpRequest) -> None:
    data = request.session.get(TOKEN_KEY) or {}
    if request.user.is_authenticated and data.get("id"):
        session_token_revoke(app_password_id=data["id"], user=request.user)
    if request.session.session_key:
        POOL.close_session(request.session.session_key)
        compose.session_uploads_drop(request)
    auth.logout(request)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    end_session(request)
    return redirect("webmail:login")
