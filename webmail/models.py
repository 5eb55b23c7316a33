from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Preferences(models.Model):
    """A webmail user's own settings: identity, signature, list layout. (The vacation reply is
    the mailbox's: domains.models.Vacation.)"""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webmail_preferences",
        verbose_name=_("login"),
    )
    display_name = models.CharField(_("display name"), max_length=120, blank=True, default="")
    signature = models.TextField(_("signature"), blank=True, default="", max_length=4000)
    # Sanitised when saved (webmail.services.preferences_update) with the reading rules.
    signature_html = models.TextField(_("HTML signature"), blank=True, default="", max_length=20000)
    page_size = models.PositiveSmallIntegerField(_("messages per page"), default=50)
    threaded = models.BooleanField(_("group messages into conversations"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webmail preferences")
        verbose_name_plural = _("webmail preferences")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(page_size__gte=10, page_size__lte=200),
                name="webmail_prefs_page_size_range",
            ),
        ]


    def __str__(self) -> str:
        return f"{self.user}"


class Recipient(models.Model):
    """An address the user wrote to: the source of the compose form's suggestions."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webmail_recipients",
        verbose_name=_("login"),
    )
    address = models.EmailField(_("address"), max_length=254)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    times = models.PositiveIntegerField(_("messages sent"), default=1)
    last_used_at = models.DateTimeField(_("last used"))

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint("user", Lower("address"), name="webmail_recipient_unique_per_user"),
        ]
        indexes = [models.Index(fields=["user", "-times"], name="webmail_recipient_rank_idx")]

    def __str__(self) -> str:
        return self.address


class Contact(models.Model):
    """An entry of the user's personal address book."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webmail_contacts",
        verbose_name=_("login"),
    )
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    address = models.EmailField(_("address"), max_length=254)
    phone = models.CharField(_("phone"), max_length=50, blank=True, default="")
    organization = models.CharField(_("organization"), max_length=200, blank=True, default="")
    notes = models.TextField(_("notes"), blank=True, default="", max_length=2000)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint("user", Lower("address"), name="webmail_contact_unique_per_user"),
        ]
        indexes = [models.Index(fields=["user", "name"], name="webmail_contact_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


class TrustedSender(models.Model):
    """A sender whose remote images the user always wants shown ("always show images from
    this sender"); the message still goes through the same sanitiser."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webmail_trusted_senders",
        verbose_name=_("login"),
    )
    address = models.EmailField(_("address"), max_length=254)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sender with images shown")
        verbose_name_plural = _("senders with images shown")
        constraints = [
            models.UniqueConstraint("user", Lower("address"), name="webmail_trusted_sender_unique"),
        ]

    def __str__(self) -> str:
        return self.address
