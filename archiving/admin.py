"""Back office: the archives, their legal hold (the only thing staff change here, through
archiving.services.archive_legal_hold_set). Messages are never edited from the back office."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from archiving import services
from archiving.models import Archive
from core.admin import ServiceAdmin


@admin.register(Archive)
class ArchiveAdmin(ServiceAdmin):
    list_display = ("address", "retention_years", "created_at", "removed_at", "legal_hold", "message_count")
    list_filter = ("legal_hold",)
    search_fields = ("address",)
    fields = ("address", "retention_years", "created_at", "removed_at", "head_seq", "legal_hold")
    readonly_fields = ("address", "retention_years", "created_at", "removed_at", "head_seq")

    @admin.display(description=_("messages"))
    def message_count(self, obj):
        return obj.messages.count()

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def service_update(self, request, obj, data):
        return services.archive_legal_hold_set(archive=obj, legal_hold=data["legal_hold"], actor=request.user)
