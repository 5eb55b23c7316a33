"""The back office (Django admin, provider staff) behind the portals' own login flow.

Django's admin login takes a password alone; the back office is the most powerful portal, so
its login, logout and permission check are replaced: staff log in through portalkit (brute-
force counters, access-log rows with protocol "backoffice", 2FA for every staff login with
enrolment at the first one), and an admin page answers only to a session that entered the back
office through that flow and whose second factor is verified now (a device reset ends it at the
next request). The admin has no password-reset views: a staff member who lost the password or
the phone is helped by another staff member (`manage.py changepassword`, the OTP devices pages).
"""

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backoffice.interventions import intervention_view
from core.portals import portal
from portalkit.portal import Portal
from portalkit.session import portal_session_ok
from portalkit.views import EnrolView, LoginView, LogoutView, PasswordChangeView, TwoFactorView

PORTAL_NAME = "backoffice"
_SPEC = portal(PORTAL_NAME)


def _may_enter(user) -> bool:
    return user.is_active and user.is_staff


BACKOFFICE = Portal(
    name=PORTAL_NAME, title=_SPEC.title, may_enter=_may_enter, home_url=_SPEC.home, password_recovery=False
)


class BackofficeSite(admin.AdminSite):
    site_header = _("mailsuite back office")
    site_title = _("Back office")

    def has_permission(self, request) -> bool:
        # Staff always need 2FA (domains.twofactor.requires_2fa), so the portal-session check
        # asks for a verified second factor on every request.
        return request.user.is_staff and portal_session_ok(request, PORTAL_NAME)

    def login(self, request, extra_context=None):
        return LoginView.as_view(portal=BACKOFFICE)(request)

    def logout(self, request, extra_context=None):
        return LogoutView.as_view(portal=BACKOFFICE)(request)

    def get_urls(self):
        # The later login steps come before the admin's own patterns (whose last one catches all).
        steps = [
            path("login/2fa/", TwoFactorView.as_view(portal=BACKOFFICE), name="login_2fa"),
            path("login/enrol/", EnrolView.as_view(portal=BACKOFFICE), name="login_enrol"),
            path("login/password/", PasswordChangeView.as_view(portal=BACKOFFICE), name="login_password"),
            path(
                "billing/intervention/",
                self.admin_view(lambda request: intervention_view(request, self)),
                name="billing_intervention",
            ),
        ]
        return steps + super().get_urls()
