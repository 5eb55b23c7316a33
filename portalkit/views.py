"""The login flow shared by the portals:

    password ──► TOTP code (user has 2FA) ──► new password (must_change_password) ──► portal
             └─► enrolment (2FA required, no device yet): QR + first code + backup codes ─┘

Until the last step the user is not logged in: the session holds only a pending login.
Every attempt (password or code) writes one access-log row.
"""

from django.contrib import auth
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from accounts import bruteforce
from core.client_address import client_ip
from domains import twofactor
from domains.services import own_password_change
from portalkit import enrolment
from portalkit.forms import LoginForm, NewPasswordForm, TokenForm
from portalkit.portal import Portal
from portalkit.session import (
    add_portal,
    clear_pending,
    get_pending,
    has_confirmed_totp,
    record_attempt,
    start_pending,
    update_pending,
)


class _PortalView(View):
    portal: Portal = None  # set by as_view(portal=...)
    template_name = ""

    def url(self, name: str) -> str:
        return reverse(f"{self.request.resolver_match.namespace}:{name}")

    def render(self, context: dict, status: int = 200) -> HttpResponse:
        context = {
            "portal": self.portal,
            "base_template": self.portal.base_template,
            **self.portal.branding(self.request),
            **context,
        }
        return render(self.request, self.template_name, context, status=status)

    def safe_next(self, next_url: str) -> str:
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return next_url
        return reverse(self.portal.home_url)

    def next_step(self, user, data: dict) -> HttpResponse:
        """Where a pending login goes after each completed step."""
        if self.portal.needs_2fa(user) and not data.get("device"):
            return redirect(self.url("login_2fa") if has_confirmed_totp(user) else self.url("login_enrol"))
        if user.must_change_password:
            return redirect(self.url("login_password"))
        return self.finish(user, data)

    def finish(self, user, data: dict) -> HttpResponse:
        device = None
        if data.get("device"):
            from django_otp.models import Device

            device = Device.from_persistent_id(data["device"])
            if device is not None and device.user_id == user.pk:
                user.otp_device = device  # auth.login() then persists it (django_otp)
        next_url = self.safe_next(data.get("next", ""))
        clear_pending(self.request)
        auth.login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        add_portal(self.request, self.portal.name)
        return redirect(next_url)


class LoginView(_PortalView):
    template_name = "accounts/login.html"

    def render(self, context: dict, status: int = 200) -> HttpResponse:
        if self.portal.password_recovery:
            context = {"forgot_url": self.url("password_forgot"), **context}
        context.setdefault("reset_done", self.request.GET.get("reset") == "1")
        return super().render(context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"form": LoginForm(), "next": request.GET.get("next", "")})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LoginForm(request.POST)
        next_url = request.POST.get("next", "")
        if not form.is_valid():
            return self.render({"form": form, "next": next_url}, status=400)
        login = form.cleaned_data["login"].strip().lower()
        refused = self._check_blocked(login)
        if refused:
            form.add_error(None, refused)
            return self.render({"form": form, "next": next_url}, status=429)
        user = auth.authenticate(request, username=login, password=form.cleaned_data["password"])
        if user is None:
            self._count_failure(login)
            record_attempt(request, login=login, portal=self.portal.name, result="failure", reason="password")
            form.add_error(None, _("Wrong login or password."))
            return self.render({"form": form, "next": next_url}, status=400)
        if not self.portal.may_enter(user):
            record_attempt(
                request, login=login, portal=self.portal.name, result="failure", reason="no access"
            )
            form.add_error(None, _("This login cannot use this portal."))
            return self.render({"form": form, "next": next_url}, status=403)
        self._count_success(login)
        record_attempt(request, login=login, portal=self.portal.name, result="success", reason="password")
        start_pending(request, user=user, portal=self.portal.name, next_url=next_url)
        _user, data = get_pending(request, self.portal.name)
        return self.next_step(user, data)

    def _check_blocked(self, login: str) -> str:
        try:
            verdict = bruteforce.check(login=login, remote_ip=client_ip(self.request))
        except bruteforce.BruteforceUnavailable:
            return _("Login is temporarily unavailable. Try again in a few minutes.")
        if verdict.blocked:
            record_attempt(
                self.request,
                login=login,
                portal=self.portal.name,
                result="blocked",
                reason="ip" if verdict.by_ip else "login",
            )
            return _("Too many failed attempts. Try again later.")
        return ""

    def _count_failure(self, login: str) -> None:
        try:
            bruteforce.record_failure(login=login, remote_ip=client_ip(self.request))
        except Exception:  # noqa: BLE001, S110  counting must not turn a wrong password into a 500
            pass

    def _count_success(self, login: str) -> None:
        try:
            bruteforce.record_success(login=login)
        except Exception:  # noqa: BLE001, S110
            pass


class TwoFactorView(_PortalView):
    template_name = "accounts/login_2fa.html"

    def dispatch(self, request, *args, **kwargs):
        self.user, self.data = get_pending(request, self.portal.name)
        if self.user is None:
            return redirect(self.url("login"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"form": TokenForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenForm(request.POST)
        device = form.is_valid() and enrolment.verify_second_factor(
            user=self.user, token=form.cleaned_data["token"]
        )
        if not device:
            record_attempt(
                request, login=self.user.username, portal=self.portal.name, result="failure", reason="totp"
            )
            form.add_error(None, _("Wrong or expired code."))
            return self.render({"form": form}, status=400)
        record_attempt(
            request, login=self.user.username, portal=self.portal.name, result="success", reason="totp"
        )
        update_pending(request, device=device.persistent_id)
        self.data["device"] = device.persistent_id
        return self.next_step(self.user, self.data)


class EnrolView(_PortalView):
    """Forced enrolment: 2FA is required (by the domain or the mailbox) and the user has no device."""

    template_name = "accounts/login_enrol.html"

    def dispatch(self, request, *args, **kwargs):
        self.user, self.data = get_pending(request, self.portal.name)
        if self.user is None:
            return redirect(self.url("login"))
        if self.data.get("backup_codes") is None and has_confirmed_totp(self.user):
            return redirect(self.url("login_2fa"))
        return super().dispatch(request, *args, **kwargs)

    def _device(self):
        device = enrolment.pending_device(user=self.user, device_id=self.data.get("enrol_device"))
        if device is None:
            device, _uri, _svg = twofactor.totp_enrol_start(self.user)
            update_pending(self.request, enrol_device=device.pk)
        return device

    def _context(self, form, device) -> dict:
        uri = twofactor.otpauth_uri(device)
        return {"form": form, "qr_svg": twofactor.qr_svg(uri), "secret": _b32(device.bin_key)}

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.data.get("backup_codes"):
            return self.render({"backup_codes": self.data["backup_codes"]})
        return self.render(self._context(TokenForm(), self._device()))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.data.get("backup_codes"):  # "I saved my codes": continue the login
            update_pending(request, backup_codes=[])
            return self.next_step(self.user, self.data)
        form = TokenForm(request.POST)
        device = self._device()
        codes = None
        if form.is_valid():
            try:
                codes = twofactor.totp_enrol_confirm(device, form.cleaned_data["token"])
            except ValidationError:
                codes = None
        if not codes:
            record_attempt(
                request,
                login=self.user.username,
                portal=self.portal.name,
                result="failure",
                reason="totp enrolment",
            )
            form.add_error(None, _("Wrong or expired code."))
            return self.render(self._context(form, device), status=400)
        record_attempt(
            request,
            login=self.user.username,
            portal=self.portal.name,
            result="success",
            reason="totp enrolment",
        )
        update_pending(request, device=device.persistent_id, backup_codes=codes)
        return self.render({"backup_codes": codes})


class PasswordChangeView(_PortalView):
    template_name = "accounts/login_password.html"

    def dispatch(self, request, *args, **kwargs):
        self.user, self.data = get_pending(request, self.portal.name)
        if self.user is None:
            return redirect(self.url("login"))
        if self.portal.needs_2fa(self.user) and not self.data.get("device"):
            return redirect(self.url("login"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"form": NewPasswordForm(user=self.user)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = NewPasswordForm(request.POST, user=self.user)
        if not form.is_valid():
            return self.render({"form": form}, status=400)
        own_password_change(user=self.user, password=form.cleaned_data["new_password1"])
        self.user.refresh_from_db()
        return self.finish(self.user, self.data)


class LogoutView(_PortalView):
    def post(self, request: HttpRequest) -> HttpResponse:
        auth.logout(request)
        return redirect(self.url("login"))


def _b32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")
