"""What a portal tells the shared login views."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


def _no_branding(request: HttpRequest) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Portal:
    name: str  # also the access-log protocol: mailadmin, webmail, timemachine, archive, customer
    title: str
    may_enter: Callable[[Any], bool]  # may this (authenticated) user use the portal?
    home_url: str  # URL name in the portal's namespace, e.g. "mailadmin:home"
    branding: Callable[[HttpRequest], dict[str, Any]] = field(default=_no_branding)
    base_template: str = "accounts/base_login.html"
    # "Forgot password" on the login page (portalkit.recovery); the back office has none.
    password_recovery: bool = True
