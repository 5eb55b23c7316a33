from functools import wraps
from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from portalkit.session import portal_session_ok


def portal_login_required(portal: str, *, login_url: str, json: bool = False):
    """The view answers only a session that passes portalkit.session.portal_session_ok for
    `portal`. Otherwise a page gets a redirect to the portal's login (with `next`); a view polled
    by a script (`json=True`) gets 403 with a JSON error instead, never a login page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not portal_session_ok(request, portal):
                if json:
                    return JsonResponse({"error": _("Your session has expired. Log in again.")}, status=403)
                return redirect(f"{reverse(login_url)}?{urlencode({'next': request.get_full_path()})}")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
