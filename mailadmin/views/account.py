"""My account in the control panel: the logged-in user's own password and two-factor
authentication (Managers, Delegates, and Postmasters too). No object id in the URLs: each page
acts on request.user only."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from domains import twofactor
from domains.services import user_password_change
from mailadmin.views.common import panel_view
from portalkit.account import enrolment_pending, enrolment_submit, own_password_change_submit
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
    if own_password_change_submit(request, form, change=user_password_change):
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
    context = {"has_totp": twofactor.has_totp(request.user), "section": "security"}
    if request.method == "POST":
        codes = enrolment_submit(request, session_key=ENROL_KEY)
        if codes is not None:
            context.update(has_totp=True, backup_codes=codes)
            return render(request, "mailadmin/account_security.html", context)
        return redirect("mailadmin:account_security")
    context.update(enrolment_pending(request, session_key=ENROL_KEY))
    return render(request, "mailadmin/account_security.html", context)
