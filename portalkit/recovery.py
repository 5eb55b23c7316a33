""""Forgot password" in the shared login flow of every portal (not the back office):

    login page ──► forgot password: the login ──► the same answer for every login
    emailed link ──► reset: a new password twice ──► the portal's login page (2FA still asked)

The answer never says whether the login exists or has a recovery address; requests are
limited per login and per client address (domains.services.recovery).
"""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import bruteforce
from accounts.logins import canonical_login
from core.client_address import client_ip
from domains.services.recovery import (
    password_recovery_allowed,
    password_recovery_complete,
    password_recovery_request,
    password_recovery_user,
)
from portalkit.forms import NewPasswordForm
from portalkit.views import _PortalView


class ForgotForm(forms.Form):
    login = forms.CharField(
        label=gettext_lazy("Email address or login"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )

    def clean_login(self) -> str:
        return canonical_login(self.cleaned_data["login"])


class ForgotPasswordView(_PortalView):
    template_name = "accounts/password_forgot.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"form": ForgotForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ForgotForm(request.POST)
        if not form.is_valid():
            return self.render({"form": form}, status=400)
        login = form.cleaned_data["login"]
        remote_ip = client_ip(request)
        try:
            allowed = password_recovery_allowed(login=login, remote_ip=remote_ip)
        except bruteforce.BruteforceUnavailable:
            form.add_error(
                None, _("Password recovery is temporarily unavailable. Try again in a few minutes.")
            )
            return self.render({"form": form}, status=503)
        if not allowed:
            form.add_error(None, _("Too many requests. Try again later."))
            return self.render({"form": form}, status=429)
        password_recovery_request(login=login, portal_name=self.portal.name, remote_ip=remote_ip)
        return self.render({"sent": True})


class ResetPasswordView(_PortalView):
    """The emailed link: a new password, then the login page. Never logs the user in.

    As Django's own reset view does, a valid link's token moves into the session and the
    browser goes on to .../set-password/, so the page (and any Referer it sends) carries no
    token."""

    template_name = "accounts/password_reset.html"
    SET_PASSWORD = "set-password"  # noqa: S105 - a URL segment, not a secret
    SESSION_KEY = "portalkit_recovery_token"

    def dispatch(self, request, *args, uidb64: str = "", token: str = "", **kwargs):
        if token == self.SET_PASSWORD:
            token = request.session.get(self.SESSION_KEY, {}).get(uidb64, "")
        self.uidb64, self.token = uidb64, token
        self.user = password_recovery_user(uidb64=uidb64, token=token)
        response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.user is None:
            return self.render({"invalid": True}, status=400)
        if request.resolver_match.kwargs.get("token") != self.SET_PASSWORD:
            request.session[self.SESSION_KEY] = {self.uidb64: self.token}
            kwargs = {"uidb64": self.uidb64, "token": self.SET_PASSWORD}
            return redirect(reverse(f"{request.resolver_match.namespace}:password_reset", kwargs=kwargs))
        return self.render({"form": NewPasswordForm(user=self.user)})

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.user is None:
            return self.render({"invalid": True}, status=400)
        form = NewPasswordForm(request.POST, user=self.user)
        if not form.is_valid():
            return self.render({"form": form}, status=400)
        password_recovery_complete(user=self.user, password=form.cleaned_data["new_password1"])
        request.session.pop(self.SESSION_KEY, None)
        return redirect(f"{self.url('login')}?reset=1")
