"""Helpers shared by the domains services."""

import secrets
import string
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!"


def generate_password(
    length: int = 18, *, user: Any | None = None, login: str = "", names: tuple[str, ...] = ()
) -> str:
    """A random password that passes every configured password validator for the account it is
    made for (`user`, or a `login` and `names` not saved yet): letters of both cases and digits.
    Without the validators' check a random draw is now and then "too similar" to the login
    (postmaster@both.test against a password holding p, o, s, t, m, a, e, r) and the caller's
    service refuses it."""
    if user is None:
        first, last = (list(names) + ["", ""])[:2]
        user = get_user_model()(username=login, email=login, first_name=first, last_name=last)
    while True:
        candidate = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if not (
            any(c.isdigit() for c in candidate)
            and any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
        ):
            continue
        try:
            password_validation.validate_password(candidate, user=user)
        except ValidationError:
            continue
        return candidate


def clean(instance: models.Model, *, exclude: Iterable[str] | None = None) -> None:
    """full_clean() that keeps field names in the error (callers show them next to the field)."""
    instance.full_clean(exclude=list(exclude or []))


def check_password(password: str, *, user: Any | None = None, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from exc


def build_login(
    *, username: str, password: str, kind: str, email: str = "", first_name: str = "", last_name: str = ""
) -> Any:
    """A new, validated, unsaved login (Manager, Delegate, customer-area user) with its password
    hashed. The login is stored in its canonical form (accounts.logins) and must be free
    (case-insensitively). It may not contain '@': an address is only ever a mailbox's login, so
    no such login can squat an address of a hosted domain, or of one hosted later
    (the database refuses it too: accounts_user_only_mailbox_login_has_at)."""
    from django.contrib.auth import get_user_model
    from django.utils.translation import gettext as _

    from accounts.logins import canonical_login

    User = get_user_model()
    username = canonical_login(username)
    if not username:
        raise ValidationError({"username": [_("This field cannot be blank.")]})
    if "@" in username:
        message = _(
            "Only a mailbox has an email address as its login: choose a login without “@” "
            "(for example anna.rossi)."
        )
        raise ValidationError({"username": [message]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [_("A user with that login already exists.")]})
    user = User(
        username=username,
        email=(email or "").strip().lower(),
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        kind=kind,
    )
    check_password(password, user=user)
    user.full_clean(exclude=["password"])
    user.set_password(password)
    return user


def integrity_to_validation(exc: IntegrityError, mapping: dict[str, tuple[str, str]]) -> ValidationError:
    """Turn a constraint violation the database raised into a ValidationError naming the field.

    `mapping` goes from a constraint name to (field, message)."""
    text = str(exc)
    for constraint, (field, message) in mapping.items():
        if constraint in text:
            return ValidationError({field: [message]})
    return ValidationError({NON_FIELD_ERRORS: [str(exc).splitlines()[0]]})


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict:
    out = {}
    for name in fields:
        value = getattr(instance, name)
        out[name] = value if isinstance(value, (int, str, bool, type(None), float)) else str(value)
    return out
