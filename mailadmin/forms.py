"""Forms of the control panel. They parse input only; the services validate and write."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from archiving.models import RETENTION_MAX_YEARS, RETENTION_MIN_YEARS
from domains.models import DelegateGrant, PostingPolicy, QuotaTier, SendLimitTier
from domains.services.branding import LOGO_MAX_BYTES
from domains.validators import validate_local_part


def apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names when the form has
    it, above the form otherwise."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        form.add_error(None, exc)


class PasswordChoiceMixin(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=True),
        help_text=_("At least 10 characters. Leave empty and tick “generate” for a random one."),
    )
    generate_password = forms.BooleanField(label=_("Generate a random password"), required=False)

    def clean(self):
        data = super().clean()
        if not data.get("generate_password") and not data.get("password"):
            self.add_error("password", _("Type a password or choose to generate one."))
        return data


class MailboxCreateForm(PasswordChoiceMixin):
    local_part = forms.CharField(
        label=_("Address"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    quota_tier = forms.TypedChoiceField(
        label=_("Space"), choices=QuotaTier.choices, coerce=int, initial=QuotaTier.GB8
    )
    field_order = ["local_part", "first_name", "last_name", "password", "generate_password", "quota_tier"]

    def clean_local_part(self):
        value = self.cleaned_data["local_part"].strip().lower()
        if "@" in value:
            value = value.split("@", 1)[0]
        validate_local_part(value)
        return value


class MailboxProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)


class MailboxPasswordForm(PasswordChoiceMixin):
    must_change = forms.BooleanField(label=_("Ask the user to change it at next login"), required=False)


class QuotaForm(forms.Form):
    quota_tier = forms.TypedChoiceField(label=_("Space"), choices=QuotaTier.choices, coerce=int)


class SendLimitForm(forms.Form):
    send_limit = forms.TypedChoiceField(
        label=_("Daily external send limit"), choices=SendLimitTier.choices, coerce=int
    )


class SuspendForm(forms.Form):
    mail = forms.ChoiceField(
        label=_("While suspended, new mail is"),
        choices=[
            ("deliver", _("delivered to the mailbox (default)")),
            ("refuse", _("refused: senders get an error")),
        ],
        initial="deliver",
        widget=forms.RadioSelect,
    )


class ArchiveForm(forms.Form):
    retention_years = forms.TypedChoiceField(
        label=_("Keep messages for"),
        coerce=int,
        choices=[
            (n, _("%(n)d years") % {"n": n} if n > 1 else _("1 year"))
            for n in range(RETENTION_MIN_YEARS, RETENTION_MAX_YEARS + 1)
        ],
        initial=10,
    )


class MailboxDeleteForm(forms.Form):
    confirm_address = forms.CharField(
        label=_("Type the address to confirm"),
        max_length=320,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )

    def __init__(self, *args, address: str, **kwargs):
        self.address = address
        super().__init__(*args, **kwargs)

    def clean_confirm_address(self):
        value = self.cleaned_data["confirm_address"].strip().lower()
        if value != self.address:
            raise ValidationError(
                _("The address you typed does not match %(address)s."), params={"address": self.address}
            )
        return value


class DomainSecurityForm(forms.Form):
    require_2fa = forms.BooleanField(
        label=_("Require two-factor authentication for every mailbox"), required=False
    )


class BrandingForm(forms.Form):
    brand_name = forms.CharField(label=_("Company name"), max_length=120, required=False)
    brand_logo = forms.FileField(
        label=_("Logo (PNG or JPEG, at most 1 MB)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    def clean_brand_logo(self):
        logo = self.cleaned_data.get("brand_logo")
        if logo and logo.size > LOGO_MAX_BYTES:
            raise ValidationError(_("The logo is larger than 1 MB."))
        return logo


class DelegateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"))
    username = forms.CharField(
        label=_("Login"), max_length=254, widget=forms.TextInput(attrs={"autocapitalize": "none"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    expires_on = forms.DateField(label=_("Access expires on"), widget=forms.DateInput(attrs={"type": "date"}))
    window_start = forms.DateField(
        label=_("Messages from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    window_end = forms.DateField(
        label=_("Messages until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    GRANT_CHOICES = [("", _("No access")), *DelegateGrant.Access.choices]

    def __init__(self, *args, mailboxes, creating: bool, kept_grants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.mailboxes = list(mailboxes)
        # The grants on archives of deleted mailboxes (they outlive the mailbox): shown to be
        # changed or revoked, never added.
        self.kept_grants = list(kept_grants)
        self.creating = creating
        if creating:
            self.fields["password"].required = True
        else:
            del self.fields["username"]
            del self.fields["password"]
        for mailbox in self.mailboxes:
            self.fields[f"grant_{mailbox.pk}"] = forms.ChoiceField(
                label=mailbox.address, choices=self.GRANT_CHOICES, required=False
            )
        for grant in self.kept_grants:
            self.fields[f"kept_{grant.mailbox_key}"] = forms.ChoiceField(
                label=_("%(address)s (archive of a deleted mailbox)") % {"address": grant.address},
                choices=self.GRANT_CHOICES,
                required=False,
                initial=grant.access,
            )

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start > end:
            self.add_error("window_end", _("The end of the window is before its start."))
        return data

    def grants(self) -> list:
        return [
            (m, self.cleaned_data[f"grant_{m.pk}"])
            for m in self.mailboxes
            if self.cleaned_data.get(f"grant_{m.pk}")
        ]

    def kept(self) -> dict[int, str]:
        """mailbox_key → the access now given ("" revokes) for the grants on deleted mailboxes."""
        return {g.mailbox_key: self.cleaned_data.get(f"kept_{g.mailbox_key}") or "" for g in self.kept_grants}

    def grant_fields(self):
        return [self[f"grant_{m.pk}"] for m in self.mailboxes] + [
            self[f"kept_{g.mailbox_key}"] for g in self.kept_grants
        ]

    def main_fields(self):
        return [self[name] for name in self.fields if not name.startswith(("grant_", "kept_"))]


# Log filters take whole days; the selectors turn "until" into the next midnight, so the last
# representable day (9999-12-31) would overflow. Nothing in a log is older or newer than these.
LOG_FIRST_DAY = datetime.date(2000, 1, 1)
LOG_LAST_DAY = datetime.date(9998, 12, 31)


def _log_day(label) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "aria-label": label}),
        validators=[MinValueValidator(LOG_FIRST_DAY), MaxValueValidator(LOG_LAST_DAY)],
    )


class LogFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"), required=False, widget=forms.TextInput(attrs={"aria-label": _("Search")})
    )
    since = _log_day(_("From"))
    until = _log_day(_("To"))


class AddressForm(forms.Form):
    """An alias, forwarder, distribution list or the catch-all (the `kind` decides which fields
    count; the service validates the combination)."""

    KIND_CHOICES = [
        ("alias", _("Alias")),
        ("forwarder", _("Forwarder to external addresses")),
        ("list", _("Distribution list")),
        ("catchall", _("Catch-all (every unknown address of the domain)")),
    ]

    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_CHOICES)
    local_part = forms.CharField(
        label=_("Address"), max_length=64, required=False, help_text=_("The part before the @.")
    )
    targets = forms.ModelMultipleChoiceField(
        label=_("Delivers to"),
        queryset=None,
        required=False,
        help_text=_("Mailboxes, aliases or lists of your domains (alias, list, catch-all)."),
    )
    external = forms.CharField(
        label=_("External addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Forwarder only: one address per line."),
    )
    owner = forms.ModelChoiceField(
        label=_("Charged to mailbox"),
        queryset=None,
        required=False,
        help_text=_(
            "Forwarder only: each forwarded copy counts against this mailbox's daily external limit."
        ),
    )
    posting = forms.ChoiceField(label=_("Who may post"), choices=PostingPolicy.choices, required=False)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def __init__(self, *args, targets, mailboxes, editing=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["targets"].queryset = targets
        self.fields["targets"].label_from_instance = lambda a: (
            f"{a.local_part}@{a.domain.name} ({a.get_kind_display()})"
        )
        self.fields["owner"].queryset = mailboxes
        self.fields["owner"].label_from_instance = lambda m: m.address
        if editing is not None:
            del self.fields["kind"]
            del self.fields["local_part"]
            self.fields["targets"].queryset = targets.exclude(pk=editing.pk)

    def clean_posting(self):
        return self.cleaned_data.get("posting") or PostingPolicy.ANYONE

    def externals(self) -> list[str]:
        return [
            line.strip() for line in (self.cleaned_data.get("external") or "").splitlines() if line.strip()
        ]
