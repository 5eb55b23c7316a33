from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from domains.validators import DOMAIN_RE, LOCAL_PART_RE, validate_domain_name, validate_local_part


class QuotaTier(models.IntegerChoices):
    """Mailbox space in GB. 8 GB is standard; larger tiers are paid."""

    GB8 = 8, _("8 GB (standard)")
    GB25 = 25, _("25 GB")
    GB50 = 50, _("50 GB")
    GB100 = 100, _("100 GB")


class SendLimitTier(models.IntegerChoices):
    """External recipients a mailbox may send to per day. Above 1,000 is paid."""

    L250 = 250, _("250 a day (standard)")
    L1000 = 1000, _("1,000 a day")
    L2000 = 2000, _("2,000 a day")
    L5000 = 5000, _("5,000 a day")


class Customer(models.Model):
    company_name = models.CharField(_("company name"), max_length=200)
    vat_number = models.CharField(_("VAT number"), max_length=32, unique=True)
    legal_rep_name = models.CharField(_("legal representative"), max_length=200)
    legal_rep_email = models.EmailField(_("legal representative's email"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["company_name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(company_name=""), name="customer_company_name_not_empty"
            ),
            models.CheckConstraint(condition=~models.Q(vat_number=""), name="customer_vat_number_not_empty"),
        ]

    def __str__(self) -> str:
        return self.company_name


class Site(models.Model):
    """A customer's telephony site: its commercial profile and voice channels decide how many
    mailboxes are included (see billing.inclusion)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="sites", verbose_name=_("customer")
    )
    name = models.CharField(_("name"), max_length=200)
    profile = models.DecimalField(
        _("commercial profile"),
        max_digits=3,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    voice_channels = models.PositiveIntegerField(_("voice channels"))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["customer", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="site_name_unique_per_customer"),
            models.CheckConstraint(condition=models.Q(profile__gt=0), name="site_profile_positive"),
            models.CheckConstraint(
                condition=models.Q(voice_channels__gte=0), name="site_voice_channels_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.profile})"


class Manager(models.Model):
    """A customer's mail Manager: one login, some of that customer's domains (Domain.manager)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manager", verbose_name=_("login")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="managers", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("manager")
        verbose_name_plural = _("managers")
        constraints = [
            # Target of the composite foreign key Domain(manager_id, customer_id), which makes the
            # database refuse a Manager of another customer (see migration 0002).
            models.UniqueConstraint(fields=["id", "customer"], name="manager_id_customer_unique"),
        ]

    def __str__(self) -> str:
        return self.user.username


class Domain(models.Model):
    name = models.CharField(_("domain name"), max_length=253, unique=True, validators=[validate_domain_name])
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="domains", verbose_name=_("customer")
    )
    manager = models.ForeignKey(
        Manager,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="domains",
        verbose_name=_("manager"),
    )
    require_2fa = models.BooleanField(_("two-factor authentication required"), default=False)
    brand_name = models.CharField(_("company name shown in webmail"), max_length=120, blank=True, default="")
    brand_logo = models.ImageField(_("logo"), upload_to="branding/", blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="domain_name_lowercase"),
            models.CheckConstraint(condition=models.Q(name__regex=DOMAIN_RE), name="domain_name_fqdn"),
        ]

    def __str__(self) -> str:
        return self.name


class Mailbox(models.Model):
    domain = models.ForeignKey(
        Domain, on_delete=models.PROTECT, related_name="mailboxes", verbose_name=_("domain")
    )
    local_part = models.CharField(_("mailbox name"), max_length=64, validators=[validate_local_part])
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mailbox", verbose_name=_("login")
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True, default="")
    last_name = models.CharField(_("last name"), max_length=100, blank=True, default="")
    quota_tier = models.PositiveSmallIntegerField(
        _("space"), choices=QuotaTier.choices, default=QuotaTier.GB8
    )
    send_limit = models.PositiveIntegerField(
        _("daily external send limit"), choices=SendLimitTier.choices, default=SendLimitTier.L250
    )
    is_postmaster = models.BooleanField(_("postmaster"), default=False)
    # is_active False = suspended: no login anywhere, still counted and billed as a mailbox.
    is_active = models.BooleanField(_("active"), default=True)
    suspended_at = models.DateTimeField(_("suspended since"), null=True, blank=True)
    # While suspended, mail is delivered (True) or refused at RCPT (False).
    receive_while_suspended = models.BooleanField(
        _("receives mail while suspended"), default=False, db_default=False
    )
    # Outgoing mail on hold (mta.outscan): a message to the Internet scored as spam. Every further
    # message to the outside is refused until the postmaster releases it; internal mail works.
    sending_held_at = models.DateTimeField(_("outgoing mail held since"), null=True, blank=True)
    sending_held_reason = models.TextField(
        _("why outgoing mail is held"), blank=True, default="", db_default=""
    )
    require_2fa = models.BooleanField(_("two-factor authentication required"), default=False)
    last_login_at = models.DateTimeField(_("last login"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        ordering = ["domain", "local_part"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="mailbox_unique_per_domain"),
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(is_postmaster=True),
                name="mailbox_one_postmaster_per_domain",
            ),
            models.CheckConstraint(
                condition=models.Q(is_postmaster=False) | models.Q(local_part="postmaster"),
                name="mailbox_postmaster_is_postmaster_address",
            ),
            models.CheckConstraint(
                condition=models.Q(local_part=Lower("local_part")), name="mailbox_local_part_lowercase"
            ),
            models.CheckConstraint(
                condition=models.Q(local_part__regex=LOCAL_PART_RE), name="mailbox_local_part_dot_atom"
            ),
            models.CheckConstraint(
                condition=models.Q(quota_tier__in=QuotaTier.values), name="mailbox_quota_tier_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(send_limit__in=SendLimitTier.values), name="mailbox_send_limit_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["domain", "is_active"], name="mailbox_domain_active_idx"),
            # The control panel's list of a large domain (bench/panel_list.py), sorted by name.
            # Its search (icontains on the address and the names, that is UPPER(column) LIKE
            # '%TEXT%') has trigram indexes on those very expressions, made by RunSQL in
            # migration 0008 (an OpClass expression index needs django.contrib.postgres installed).
            models.Index(
                fields=["domain", "last_name", "first_name", "local_part"], name="mailbox_domain_name_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def quota_bytes(self) -> int:
        return int(self.quota_tier) * 1024**3


class Delegate(models.Model):
    """A person a Manager allows to read archives of some mailboxes, within a time window."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegate", verbose_name=_("login")
    )
    manager = models.ForeignKey(
        Manager, on_delete=models.CASCADE, related_name="delegates", verbose_name=_("manager")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"))
    expires_on = models.DateField(_("access expires on"))
    window_start = models.DateField(_("messages from"), null=True, blank=True)
    window_end = models.DateField(_("messages until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("delegate")
        verbose_name_plural = _("delegates")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_start__isnull=True)
                | models.Q(window_end__isnull=True)
                | models.Q(window_start__lte=models.F("window_end")),
                name="delegate_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DelegateGrant(models.Model):
    class Access(models.TextChoices):
        HEADERS = "headers", _("Headers only")
        FULL = "full", _("Full content")

    delegate = models.ForeignKey(Delegate, on_delete=models.CASCADE, related_name="grants")
    # A grant is on a mailbox's archive, and the archive outlives the mailbox (issue 13): when
    # the mailbox is deleted the grant stays, `mailbox` becomes null, and the archive is still
    # found by `mailbox_key` (the mailbox's immutable id, which an undelete gives back) until its
    # retention ends or the Manager removes it. `address` and `domain` are what the panel shows
    # and scopes it by then.
    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="delegate_grants"
    )
    mailbox_key = models.BigIntegerField()
    address = models.CharField(_("address"), max_length=320)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    access = models.CharField(_("access"), max_length=8, choices=Access.choices, default=Access.HEADERS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delegate", "mailbox_key"], name="delegate_grant_unique"),
            models.CheckConstraint(
                condition=models.Q(access__in=["headers", "full"]), name="delegate_grant_access_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegate_id} → {self.mailbox_key} ({self.access})"


class CustomerUser(models.Model):
    """A login of the customer area; with `can_configure_mail` it sees the billing Monitor."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_user"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="users")
    can_configure_mail = models.BooleanField(_("mail configuration right"), default=False)

    class Meta:
        verbose_name = _("customer area user")
        verbose_name_plural = _("customer area users")

    def __str__(self) -> str:
        return str(self.user)


class DeletedMailbox(models.Model):
    """A mailbox deleted in the last 15 days: what the control panel needs to bring it back
    under the same id (its mail, Sieve scripts and snapshots are set aside under that id,
    mailstore.layout). Written by mailbox_delete; `restored_at` set by mailbox_undelete. The
    stored password hash keeps the user's password working after a restore; the row goes with
    the files (domains.tasks/mailstore purge after 15 days)."""

    mailbox_id = models.BigIntegerField(_("mailbox id"), unique=True)
    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, related_name="deleted_mailboxes", verbose_name=_("domain")
    )
    local_part = models.CharField(_("mailbox name"), max_length=64)
    first_name = models.CharField(_("first name"), max_length=100, blank=True, default="")
    last_name = models.CharField(_("last name"), max_length=100, blank=True, default="")
    quota_tier = models.PositiveSmallIntegerField(_("space"), choices=QuotaTier.choices)
    send_limit = models.PositiveIntegerField(_("send limit"), choices=SendLimitTier.choices)
    password = models.CharField(_("password"), max_length=256)
    deleted_at = models.DateTimeField(_("deleted"), db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restored_at = models.DateTimeField(_("restored"), null=True, blank=True)

    class Meta:
        verbose_name = _("deleted mailbox")
        verbose_name_plural = _("deleted mailboxes")
        ordering = ["-deleted_at"]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"

    @property
    def purge_at(self):
        """When its files and this row go for good (15 days after the deletion)."""
        from datetime import timedelta

        return self.deleted_at + timedelta(days=15)


class AddressKind(models.TextChoices):
    MAILBOX = "mailbox", _("Mailbox")
    ALIAS = "alias", _("Alias")
    FORWARDER = "forwarder", _("Forwarder")
    LIST = "list", _("Distribution list")


class PostingPolicy(models.TextChoices):
    ANYONE = "anyone", _("Anyone")
    MEMBERS = "members", _("Members only")
    DOMAIN = "domain", _("Mailboxes of the domain")


class Address(models.Model):
    """The address registry: one row per address of a hosted domain, whatever it is (mailbox,
    alias, forwarder, distribution list), so `address_unique_per_domain` makes an address one
    thing only. A mailbox's row is written by the database itself (trigger on domains_mailbox,
    migration 0004); the others by `domains.services.addresses`. The local part "" is the
    domain's catch-all (an alias). A domain alias has no addresses of its own: x@alias.test is
    x@acme.test, so the rule holds across domain aliases too."""

    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("domain")
    )
    local_part = models.CharField(_("address"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=AddressKind.choices)
    mailbox = models.OneToOneField(
        Mailbox, on_delete=models.CASCADE, null=True, blank=True, related_name="registry_entry"
    )
    # A forwarder's copies leave as this mailbox's mail: its daily external send limit pays.
    owner = models.ForeignKey(
        Mailbox,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forwarders",
        verbose_name=_("charged to mailbox"),
    )
    posting = models.CharField(
        _("who may post"), max_length=8, choices=PostingPolicy.choices, default=PostingPolicy.ANYONE
    )
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["domain", "local_part"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="address_unique_per_domain"),
            models.CheckConstraint(
                condition=models.Q(local_part=Lower("local_part")), name="address_local_part_lowercase"
            ),
            models.CheckConstraint(
                condition=models.Q(local_part="") | models.Q(local_part__regex=LOCAL_PART_RE),
                name="address_local_part_dot_atom",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=AddressKind.values), name="address_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(posting__in=PostingPolicy.values), name="address_posting_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="mailbox", mailbox__isnull=False)
                | (~models.Q(kind="mailbox") & models.Q(mailbox__isnull=True)),
                name="address_mailbox_iff_kind_mailbox",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="forwarder", owner__isnull=False)
                | (~models.Q(kind="forwarder") & models.Q(owner__isnull=True)),
                name="address_owner_iff_forwarder",
            ),
            models.CheckConstraint(
                condition=~models.Q(local_part="") | models.Q(kind="alias"),
                name="address_catch_all_is_an_alias",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.local_part or '*'}@{self.domain.name}"

    @property
    def is_catch_all(self) -> bool:
        return self.local_part == ""

    @property
    def address(self) -> str:
        return f"{self.local_part or '*'}@{self.domain.name}"


class AddressTarget(models.Model):
    """Where an alias, list or forwarder delivers: another address of the registry (a mailbox's,
    or an alias or list, expanded in turn) or, for a forwarder, an external address."""

    address = models.ForeignKey(Address, on_delete=models.CASCADE, related_name="targets")
    target = models.ForeignKey(
        Address, on_delete=models.CASCADE, null=True, blank=True, related_name="targeted_by"
    )
    external = models.CharField(_("external address"), max_length=320, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(target__isnull=False) & models.Q(external=""))
                | (models.Q(target__isnull=True) & ~models.Q(external="")),
                name="address_target_one_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(target=models.F("address")), name="address_target_not_itself"
            ),
            models.UniqueConstraint(
                fields=["address", "target"],
                condition=models.Q(target__isnull=False),
                name="address_target_unique",
            ),
            models.UniqueConstraint(
                fields=["address", "external"],
                condition=~models.Q(external=""),
                name="address_external_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address_id} → {self.target_id or self.external}"


class DomainAlias(models.Model):
    """Another name of a hosted domain: mail to x@alias.test is mail to x@acme.test. Registered
    by the provider in the back office (who checks the customer holds the name, as for a
    domain): a name hosted here attracts every message the suite handles for it, so it cannot
    be left to a Manager. A name is a domain or a domain alias, never both (trigger, migration
    0004)."""

    name = models.CharField(_("domain name"), max_length=253, unique=True, validators=[validate_domain_name])
    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, related_name="aliases", verbose_name=_("delivers as")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("domain alias")
        verbose_name_plural = _("domain aliases")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="domainalias_name_lowercase"),
            models.CheckConstraint(condition=models.Q(name__regex=DOMAIN_RE), name="domainalias_name_fqdn"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.domain_id}"


class DkimKey(models.Model):
    """A DKIM key pair of a domain (domains.dkim). A new key is PENDING until the live DNS check
    sees its TXT record, then ACTIVE (the one that signs); the key it replaces is RETIRING (not
    signing, still to be published) for settings.DKIM_RETIRE_GRACE_DAYS, then RETIRED."""

    class State(models.TextChoices):
        PENDING = "pending", _("New, waiting for its DNS record")
        ACTIVE = "active", _("Signing")
        RETIRING = "retiring", _("Replaced, keep it published for now")
        RETIRED = "retired", _("Retired")

    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, related_name="dkim_keys", verbose_name=_("domain")
    )
    selector = models.CharField(_("selector"), max_length=63)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    bits = models.PositiveSmallIntegerField(_("key size"))
    private_key = models.TextField(_("private key (encrypted)"))  # domains.dkimkeys: encrypted PKCS#8 PEM
    public_key = models.TextField(_("public key"))  # base64 DER SubjectPublicKeyInfo: the record's p=
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("signing since"), null=True, blank=True)
    replaced_at = models.DateTimeField(_("replaced"), null=True, blank=True)

    class Meta:
        verbose_name = _("DKIM key")
        verbose_name_plural = _("DKIM keys")
        ordering = ["domain", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "selector"], name="dkimkey_selector_unique_per_domain"),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(state="active"), name="dkimkey_one_active_per_domain"
            ),
            models.UniqueConstraint(
                fields=["domain"], condition=models.Q(state="pending"), name="dkimkey_one_pending_per_domain"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "active", "retiring", "retired"]),
                name="dkimkey_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(selector__regex=r"^[a-z0-9][a-z0-9-]*$"), name="dkimkey_selector_label"
            ),
            models.CheckConstraint(condition=models.Q(bits__gte=1024), name="dkimkey_bits_at_least_1024"),
        ]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.name} ({self.state})"


class Vacation(models.Model):
    """A mailbox's automatic reply (out of office), mirrored to its Sieve script: set from the
    webmail's settings and from a phone (ActiveSync Oof) alike (domains.services.vacation)."""

    mailbox = models.OneToOneField(
        Mailbox, on_delete=models.CASCADE, related_name="vacation", verbose_name=_("mailbox")
    )
    enabled = models.BooleanField(_("vacation reply on"), default=False)
    subject = models.CharField(_("vacation subject"), max_length=200, blank=True, default="")
    body = models.TextField(_("vacation message"), blank=True, default="", max_length=4000)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("vacation reply")
        verbose_name_plural = _("vacation replies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(enabled=False) | ~models.Q(body=""), name="vacation_needs_body"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox}"
