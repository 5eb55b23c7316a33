from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts.logins import canonical_login


class LoginManager(UserManager):
    def get_by_natural_key(self, username):
        """Django's authentication backend finds a login here: in its canonical form, so any
        IDNA-equivalent spelling of a login reaches the same account (accounts.logins)."""
        return self.get(**{self.model.USERNAME_FIELD: canonical_login(username or "")})


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

    objects = LoginManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["staff", "mailbox", "manager", "delegate", "customer"]),
                name="accounts_user_kind_valid",
            ),
            # An address is only ever a mailbox's login: a Manager, Delegate or customer-area
            # login cannot squat an address of a hosted domain, or of one hosted later.
            models.CheckConstraint(
                condition=~models.Q(kind__in=["manager", "delegate", "customer"])
                | ~models.Q(username__contains="@"),
                name="accounts_user_only_mailbox_login_has_at",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @classmethod
    def normalize_username(cls, username):
        """Logins are stored in their canonical form (create_user, createsuperuser, the admin's
        forms through clean()), the form every login is looked up by."""
        return canonical_login(username) if isinstance(username, str) else username


class AppPassword(models.Model):
    """A random token for mail clients (IMAP, POP3, SMTP, ManageSieve) that cannot do 2FA.

    Only the SHA-256 hex of the token is stored; the clear token is shown once at creation.
    Dovecot matches it in SQL through the mailstore views. Active while revoked_at is NULL."""

    class Kind(models.TextChoices):
        # One the user made for a mail program (listed, revocable by the user).
        USER = "user", _("mail program")
        # One the webmail made for its own IMAP/SMTP session (hidden; revoked at logout/expiry).
        WEBMAIL_SESSION = "webmail_session", _("webmail session")

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="app_passwords", verbose_name=_("login")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.USER)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        db_table = "accounts_apppassword"
        verbose_name = _("app password")
        verbose_name_plural = _("app passwords")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="apppassword_name_not_empty"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["user", "webmail_session"]), name="apppassword_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(token_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106 - a pattern, not a secret
                name="apppassword_token_hash_sha256_hex",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user"], condition=models.Q(revoked_at__isnull=True), name="apppassword_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AccessLogEntry(models.Model):
    """One authentication attempt on any protocol or portal: who, from where, how it ended."""

    class Protocol(models.TextChoices):
        IMAP = "imap", "IMAP"
        POP3 = "pop3", "POP3"
        SIEVE = "sieve", "ManageSieve"
        SMTP = "smtp", "SMTP"
        SUBMISSION = "submission", _("SMTP submission")
        WEBMAIL = "webmail", _("Webmail")
        MAILADMIN = "mailadmin", _("Control panel")
        TIMEMACHINE = "timemachine", _("Time Machine")
        ARCHIVE = "archive", _("Archive")
        CUSTOMER = "customer", _("Customer area")
        BACKOFFICE = "backoffice", _("Back office")
        ACTIVESYNC = "activesync", "ActiveSync"

    class Result(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        BLOCKED = "blocked", _("Blocked")

    at = models.DateTimeField(_("when"), db_index=True)
    login = models.CharField(_("login"), max_length=254)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    domain = models.ForeignKey(
        "domains.Domain", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("domain"),
    )
    protocol = models.CharField(_("protocol"), max_length=16, choices=Protocol.choices)
    remote_ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    tls = models.BooleanField(_("TLS"), default=False)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    reason = models.CharField(_("reason"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(protocol__in=[
                    "imap", "pop3", "sieve", "smtp", "submission", "webmail", "mailadmin",
                    "timemachine", "archive", "customer", "backoffice", "activesync",
                ]),
                name="accesslog_protocol_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(result__in=["success", "failure", "blocked"]),
                name="accesslog_result_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["domain", "-at"], name="accesslog_domain_at_idx"),
            models.Index(fields=["login", "-at"], name="accesslog_login_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.login} {self.protocol} {self.result}"


class RecoveryAddress(models.Model):
    """A mailbox user's address outside their mailbox, where a "forgot password" link goes.

    `email` counts only once confirmed (confirmed_at set). A new address waits in
    `pending_email` until its link is opened; the confirmed one keeps working meanwhile."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="recovery_address", verbose_name=_("login")
    )
    email = models.EmailField(_("recovery address"), blank=True, default="")
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    pending_email = models.EmailField(_("address waiting for confirmation"), blank=True, default="")
    pending_since = models.DateTimeField(_("confirmation sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery address")
        verbose_name_plural = _("recovery addresses")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email="") | models.Q(confirmed_at__isnull=False),
                name="recoveryaddress_email_confirmed",
            ),
            models.CheckConstraint(
                condition=models.Q(pending_email="") | models.Q(pending_since__isnull=False),
                name="recoveryaddress_pending_dated",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.pending_email
