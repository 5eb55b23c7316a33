from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """Who changed what, before → after, when. Written by services in the change's transaction
    (core.audit.audit_record). Every domain app writes audit rows, so the model lives in the base
    app; its customer and domain are string references, and the table keeps its first name
    (`domains_auditentry`: the model moved, no row did)."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("who"), max_length=254, blank=True, default="")
    customer = models.ForeignKey(
        "domains.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    domain = models.ForeignKey(
        "domains.Domain", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("what"), max_length=64)
    target = models.CharField(_("object"), max_length=254, blank=True, default="")
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        db_table = "domains_auditentry"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["domain", "-at"], name="audit_domain_at_idx"),
            models.Index(fields=["customer", "-at"], name="audit_customer_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target}"
