from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.logins import canonical_login


class LoginForm(forms.Form):
    login = forms.CharField(
        label=_("Email address or login"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_login(self) -> str:
        """Every portal authenticates, counts and logs the canonical login (accounts.logins),
        whatever spelling of it was typed."""
        return canonical_login(self.cleaned_data["login"])


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class NewPasswordForm(forms.Form):
    """A new password typed twice, matching and passing the password validators."""

    # The forced change at login has no "current password" field: compare with the stored hash.
    # A form that asks for the current password lets its service compare with what was typed.
    check_differs_from_stored = True

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("new_password1"), data.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", _("The two passwords do not match."))
        elif p1:
            if self.check_differs_from_stored and self.user.check_password(p1):
                self.add_error("new_password1", _("Choose a password different from the current one."))
            else:
                try:
                    password_validation.validate_password(p1, self.user)
                except forms.ValidationError as exc:
                    self.add_error("new_password1", exc)
        return data
