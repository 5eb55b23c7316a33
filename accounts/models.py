from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A login: a mailbox (username = the address), a Manager, a Delegate, a customer-area
    user or provider staff. What the login may do comes from the rows that point at it."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("Provider staff")
        MAILBOX = "mailbox", _("Mailbox")
        MANAGER = "manager", _("Manager")
        DELEGATE = "delegate", _("Delegate")
        CUSTOMER = "customer", _("Customer area user")

    username = models.CharField(
        _("login"),
        max_length=254,
        unique=True,
        validators=[UnicodeUsernameValidator()],
        error_messages={"unique": _("A user with that login already exists.")},
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.STAFF)
    must_change_password = models.BooleanField(_("must change password at next login"), default=False)
    language = models.CharField(_("language"), max_length=8, blank=True, default="")

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["staff", "mailbox", "manager", "delegate", "customer"]),
                name="accounts_user_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.username
