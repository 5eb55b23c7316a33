"""My account in the control panel: the logged-in user's own password and two-factor
authentication (Managers, Delegates, and Postmasters too). No object id in the URLs: each page
acts on request.user only."""

from base64 import b32encode

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from domains import twofactor
from domains.services import user_password_change
from mailadmin.views.common import panel_view
from portalkit.enrolment import pending_device
from portalkit.forms import NewPasswordForm

ENROL_KEY = "mailadmin_enrol_device"


class OwnPasswordForm(NewPasswordForm):
    """The current password, then the new one twice."""

    check_differs_from_stored = False  # the service compares with the typed current one
    field_order = ["current", "new_password1", "new_password2"]

    current = forms.CharField(
        label=gettext_lazy("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@panel_view
def account(request: HttpRequest) -> HttpResponse:
    return redirect("mailadmin:account_password")


@panel_view
@require_http_methods(["GET", "POST"])
def account_password(request: HttpRequest) -> HttpResponse:
    form = OwnPasswordForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user_password_change(
                user=request.user,
                current=form.cleaned_data["current"],
                new=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                field = {"new": "new_password1"}.get(field, field)
                form.add_error(field if field in form.fields else None, errors)
        else:
            request.user.refresh_from_db()
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Password changed."))
            return redirect("mailadmin:account_password")
    return render(
        request,
        "mailadmin/account_password.html",
        {"form": form, "section": "password"},
        status=400 if request.method == "POST" else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def account_security(request: HttpRequest) -> HttpResponse:
    user = request.user
    has_totp = twofactor.has_totp(user)
    device = pending_device(user=user, device_id=request.session.get(ENROL_KEY))
    context = {"has_totp": has_totp, "section": "security"}
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "start" and not has_totp:
            device, _uri, _svg = twofactor.totp_enrol_start(user)
            request.session[ENROL_KEY] = device.pk
        elif op == "confirm" and device is not None:
            try:
                codes = twofactor.totp_enrol_confirm(device, request.POST.get("token", ""))
            except ValidationError:
                messages.error(request, _("Wrong or expired code."))
            else:
                request.session.pop(ENROL_KEY, None)
                otp_login(request, device)  # this session counts as verified from now on
                context.update(has_totp=True, backup_codes=codes)
                return render(request, "mailadmin/account_security.html", context)
        return redirect("mailadmin:account_security")
    if device is not None and not has_totp:
        context.update(
            enrolling=True,
            qr_svg=twofactor.qr_svg(twofactor.otpauth_uri(device)),
            secret=b32encode(device.bin_key).decode("ascii").rstrip("="),
        )
    return render(request, "mailadmin/account_security.html", context)
