from django.urls import path

from portalkit.portal import Portal
from portalkit.recovery import ForgotPasswordView, ResetPasswordView
from portalkit.views import EnrolView, LoginView, LogoutView, PasswordChangeView, TwoFactorView


def login_urlpatterns(portal: Portal) -> list:
    """The login steps of one portal, to include in its URLconf (names: login, login_2fa,
    login_enrol, login_password, logout; with password recovery: password_forgot,
    password_reset)."""
    recovery = [
        path("password/forgot/", ForgotPasswordView.as_view(portal=portal), name="password_forgot"),
        path(
            "password/reset/<uidb64>/<token>/",
            ResetPasswordView.as_view(portal=portal),
            name="password_reset",
        ),
    ]
    return [
        path("login/", LoginView.as_view(portal=portal), name="login"),
        path("login/2fa/", TwoFactorView.as_view(portal=portal), name="login_2fa"),
        path("login/enrol/", EnrolView.as_view(portal=portal), name="login_enrol"),
        path("login/password/", PasswordChangeView.as_view(portal=portal), name="login_password"),
        path("logout/", LogoutView.as_view(portal=portal), name="logout"),
        *(recovery if portal.password_recovery else []),
    ]
