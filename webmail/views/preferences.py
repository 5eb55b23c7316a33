"""Settings: identity and signature, language, password, recovery address, two-factor
authentication, app passwords, vacation reply."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import AppPassword
from accounts.services import app_password_create, app_password_revoke
from devices.selectors import device_of_mailbox, devices_of_mailbox
from devices.services import device_allow, device_block, device_wipe_request
from domains import twofactor
from domains.clientsetup import servers as client_servers
from domains.services.recovery import (
    recovery_address_confirm,
    recovery_address_for,
    recovery_address_remove,
    recovery_address_set,
)
from domains.services.vacation import vacation_of
from mailstore.errors import MailstoreError
from portalkit.account import enrolment_pending, enrolment_submit, own_password_change_submit
from portalkit.forms import NewPasswordForm
from webmail import services
from webmail.selectors import preferences_for, visible_app_passwords
from webmail.views.common import webmail_view
from webmail.views.portal import WEBMAIL

ENROL_KEY = "webmail_enrol_device"


class IdentityForm(forms.Form):
    display_name = forms.CharField(label=gettext_lazy("Display name"), max_length=120, required=False)
    signature = forms.CharField(
        label=gettext_lazy("Signature"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    signature_html = forms.CharField(
        label=gettext_lazy("Signature (formatted)"),
        help_text=gettext_lazy("Used in formatted messages; the plain signature above in plain-text ones."),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "data-rich": "signature"}),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    page_size = forms.IntegerField(label=gettext_lazy("Messages per page"), min_value=10, max_value=200)


class PasswordForm(NewPasswordForm):
    """The user's own change: the current password, then the new one twice."""

    check_differs_from_stored = False  # own_password_change compares with the typed current one
    field_order = ["current", "new_password1", "new_password2"]

    current = forms.CharField(
        label=gettext_lazy("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class RecoveryAddressForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Recovery address"),
        max_length=254,
        help_text=gettext_lazy("An address outside this mailbox, e.g. a personal one."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class AppPasswordForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (the device or program)"), max_length=100)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name.lower().startswith(services.SESSION_TOKEN_PREFIX):
            raise ValidationError(_("This name is reserved; choose another."))
        return name


class VacationForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("Send an automatic reply"), required=False)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200, required=False)
    body = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    until = forms.DateField(
        label=gettext_lazy("Until (included)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _page(request, template, context, status=200):
    return render(
        request,
        template,
        {"folder": None, "section": template.rsplit("/", 1)[-1][:-5], **context},
        status=status,
    )


@webmail_view
def identity(request: HttpRequest) -> HttpResponse:
    prefs = preferences_for(user=request.user)
    initial = {
        "display_name": prefs.display_name or request.mailbox.full_name,
        "signature": prefs.signature,
        "signature_html": prefs.signature_html,
        "language": request.user.language or translation.get_language(),
        "page_size": prefs.page_size,
    }
    form = IdentityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.preferences_update(
            user=request.user,
            display_name=data["display_name"],
            signature=data["signature"],
            signature_html=data["signature_html"],
            page_size=data["page_size"],
        )
        services.language_set(user=request.user, language=data["language"])
        translation.activate(data["language"])
        messages.success(request, _("Settings saved."))
        response = redirect("webmail:settings")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, data["language"], samesite="Lax")
        return response
    return _page(
        request,
        "webmail/settings_identity.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@webmail_view
def password(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.POST or None, user=request.user)
    if own_password_change_submit(request, form, change=services.own_password_change):
        messages.success(request, _("Password changed. Mail programs need the new password."))
        return redirect("webmail:settings_password")
    return _page(
        request,
        "webmail/settings_password.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@webmail_view
def recovery(request: HttpRequest) -> HttpResponse:
    """The address a "forgot password" link goes to. The Postmaster's goes to the customer's
    legal representative instead, so the page only says so."""
    mailbox = request.mailbox
    form = RecoveryAddressForm(request.POST or None)
    if request.method == "POST" and not mailbox.is_postmaster:
        if request.POST.get("op") == "remove":
            recovery_address_remove(mailbox=mailbox, actor=request.user)
            messages.success(request, _("Recovery address removed."))
            return redirect("webmail:settings_recovery")
        if form.is_valid():
            try:
                recovery_address_set(mailbox=mailbox, email=form.cleaned_data["email"], actor=request.user)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request, _("We sent a confirmation link to the new address: it counts once confirmed.")
                )
                return redirect("webmail:settings_recovery")
    context = {
        "form": form,
        "row": recovery_address_for(user=request.user),
        "postmaster": mailbox.is_postmaster,
    }
    status = 200
    if request.method == "POST":
        status = 403 if mailbox.is_postmaster else 400
    return _page(request, "webmail/settings_recovery.html", context, status=status)


def recovery_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link emailed to a new recovery address. Opening it shows a button (mail scanners
    that fetch links do not confirm anything); the button confirms. No login needed: the
    signed token names the mailbox and the address."""
    context = {"portal": WEBMAIL, "base_template": WEBMAIL.base_template, **WEBMAIL.branding(request)}
    if request.method == "POST":
        row = recovery_address_confirm(token=token)
        context.update({"done": row is not None, "invalid": row is None})
        return render(request, "webmail/recovery_confirm.html", context, status=200 if row else 400)
    return render(request, "webmail/recovery_confirm.html", context)


@webmail_view
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    may_remove = services.twofactor_may_remove(user=user)
    context = {"has_totp": twofactor.has_totp(user), "may_remove": may_remove, "required": not may_remove}
    if request.method == "POST":
        op = request.POST.get("op")
        if op in ("start", "confirm"):
            codes = enrolment_submit(request, session_key=ENROL_KEY)
            if codes is not None:
                return _page(
                    request,
                    "webmail/settings_security.html",
                    {**context, "has_totp": True, "backup_codes": codes},
                )
        elif op == "remove":
            try:
                services.twofactor_remove(user=user, password=request.POST.get("password", ""))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Two-factor authentication removed."))
        return redirect("webmail:settings_security")
    context.update(enrolment_pending(request, session_key=ENROL_KEY))
    return _page(request, "webmail/settings_security.html", context)


@webmail_view
def app_passwords(request: HttpRequest) -> HttpResponse:
    form = AppPasswordForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        app_password, token = app_password_create(user=request.user, name=form.cleaned_data["name"])
        created = {"name": app_password.name, "token": token}
        form = AppPasswordForm()
    context = {
        "form": form,
        "created": created,
        "items": visible_app_passwords(user=request.user),
        "login": request.mailbox.address,
        "servers": dict(zip(("imap", "pop3", "smtp"), client_servers(), strict=True)),
    }
    return _page(
        request,
        "webmail/settings_app_passwords.html",
        context,
        status=400 if request.method == "POST" and not created else 200,
    )


@require_POST
@webmail_view
def app_password_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = visible_app_passwords(user=request.user).filter(pk=pk).first()
    if item is None:
        raise Http404
    app_password_revoke(app_password=item, actor=request.user)
    messages.success(request, _("App password revoked."))
    return redirect("webmail:settings_app_passwords")


@webmail_view
def vacation(request: HttpRequest) -> HttpResponse:
    current = vacation_of(mailbox=request.mailbox)
    initial = {
        "enabled": current.enabled,
        "subject": current.subject,
        "body": current.body,
        "until": current.until,
    }
    form = VacationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.vacation_set(
                user=request.user,
                address=request.mailbox.address,
                enabled=data["enabled"],
                subject=data["subject"],
                body=data["body"],
                until=data["until"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except MailstoreError:
            form.add_error(None, _("The mail server did not accept the automatic reply; try again later."))
        else:
            messages.success(
                request, _("Automatic reply on.") if data["enabled"] else _("Automatic reply off.")
            )
            return redirect("webmail:settings_vacation")
    return _page(
        request,
        "webmail/settings_vacation.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


__all__ = ["AppPassword"]


# Phones and tablets (ActiveSync) -------------------------------------------------------------

DEVICE_ACTIONS = {
    "block": (device_block, gettext_lazy("Device blocked: it can no longer sync.")),
    "allow": (device_allow, gettext_lazy("Device allowed again: it syncs after accepting the policy again.")),
    "wipe": (
        device_wipe_request,
        gettext_lazy("Remote wipe requested: the device erases itself the next time it connects."),
    ),
}


@webmail_view
def devices(request: HttpRequest) -> HttpResponse:
    items = devices_of_mailbox(mailbox=request.mailbox)
    return _page(request, "webmail/settings_devices.html", {"devices": items})


@require_POST
@webmail_view
def device_action(request: HttpRequest, pk: int) -> HttpResponse:
    device = device_of_mailbox(mailbox=request.mailbox, pk=pk)
    action = DEVICE_ACTIONS.get(request.POST.get("action", ""))
    if device is None or action is None:
        raise Http404
    change, done = action
    change(device=device, actor=request.user)
    messages.success(request, str(done))
    return redirect("webmail:settings_devices")
