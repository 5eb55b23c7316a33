from functools import wraps
from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from accounts.web.session import has_portal, requires_2fa


def portal_login_required(portal: str, *, login_url: str):
    """The user entered this portal in this session (and passed 2FA when it applies)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            ok = (
                user.is_authenticated
                and has_portal(request, portal)
                and not user.must_change_password
                and (not requires_2fa(user) or user.is_verified())
            )
            if not ok:
                return redirect(f"{reverse(login_url)}?{urlencode({'next': request.get_full_path()})}")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
