"""What a portal tells the shared login views."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from domains.twofactor import requires_2fa


def _no_branding(request: HttpRequest) -> dict[str, Any]:
    return {}


def _no_extra_2fa(user: Any) -> bool:
    return False


@dataclass(frozen=True)
class Portal:
    name: str  # also the access-log protocol: mailadmin, webmail, timemachine, archive, customer
    title: str
    may_enter: Callable[[Any], bool]  # may this (authenticated) user use the portal?
    home_url: str  # URL name in the portal's namespace, e.g. "mailadmin:home"
    branding: Callable[[HttpRequest], dict[str, Any]] = field(default=_no_branding)
    base_template: str = "accounts/base_login.html"
    # 2FA this portal requires of a user on top of domains.twofactor.requires_2fa (the Archive
    # requires it of Delegates): the login flow then asks for the code, or forces enrolment.
    requires_2fa: Callable[[Any], bool] = field(default=_no_extra_2fa)
    # "Forgot password" on the login page (portalkit.recovery); the back office has none.
    password_recovery: bool = True

    def needs_2fa(self, user: Any) -> bool:
        return requires_2fa(user) or self.requires_2fa(user)
