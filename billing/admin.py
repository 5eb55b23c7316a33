"""Back office (provider staff): price list versions, the ledger and the end-of-day notices.
Writes go through billing.services (see core.admin.ServiceAdmin). The customer-area users are
domains' (domains/admin.py)."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing import services
from billing.models import PRICE_FIELDS, DailyNotice, LedgerEvent, PriceList
from core.admin import ReadOnlyAdmin, ServiceAdmin


@admin.register(PriceList)
class PriceListAdmin(ServiceAdmin):
    list_display = ("valid_from", "valid_until", *PRICE_FIELDS, "note")
    fields = ("valid_from", *PRICE_FIELDS, "note")

    @admin.display(description=_("valid until"))
    def valid_until(self, obj):
        following = PriceList.objects.filter(valid_from__gt=obj.valid_from).order_by("valid_from").first()
        return (following.valid_from - timezone.timedelta(days=1)) if following else "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.valid_from <= timezone.localdate():
            return self.fields  # in force or past: history, priced changes refer to it
        return ()

    def service_create(self, request, data):
        return services.price_list_save(actor=request.user, **{k: data[k] for k in self.fields})

    def service_update(self, request, obj, data):
        return services.price_list_save(
            actor=request.user, price_list=obj, **{k: data[k] for k in self.fields}
        )

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEvent)
class LedgerEventAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "customer",
        "domain_name",
        "actor_label",
        "kind",
        "target",
        "before",
        "after",
        "monthly_delta",
        "one_off_amount",
        "monthly_total_before",
        "monthly_total_after",
    )
    list_filter = ("kind", "intervention")
    search_fields = ("target", "domain_name", "customer__company_name", "actor_label")
    list_select_related = ("customer",)
    date_hierarchy = "at"
    # Adds the link to the back office's "record an intervention" page (backoffice.interventions).
    change_list_template = "backoffice/ledger_change_list.html"


@admin.register(DailyNotice)
class DailyNoticeAdmin(ReadOnlyAdmin):
    list_display = (
        "day",
        "customer",
        "state",
        "recipient",
        "monthly_total_before",
        "monthly_total_after",
        "attempts",
        "sent_at",
        "error",
    )
    list_filter = ("state", "day")
    search_fields = ("customer__company_name", "recipient")
    list_select_related = ("customer",)
    readonly_fields = (
        "day",
        "customer",
        "state",
        "recipient",
        "subject",
        "body",
        "message_id",
        "attempts",
        "claimed_at",
        "sent_at",
        "error",
    )

    def has_change_permission(self, request, obj=None):
        return False
