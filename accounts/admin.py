from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import AccessLogEntry, AppPassword, User
from accounts.services import app_password_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "kind", "first_name", "last_name", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("mailsuite"), {"fields": ("kind", "must_change_password", "language")}),
    )


@admin.register(AppPassword)
class AppPasswordAdmin(admin.ModelAdmin):
    """Read-only: app passwords are created by their owner; staff may only revoke them."""

    list_display = ("user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "name")
    readonly_fields = ("user", "name", "created_at", "last_used_at", "revoked_at")
    exclude = ("token_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected app passwords"))
    def revoke(self, request, queryset):
        for app_password in queryset.filter(revoked_at__isnull=True):
            app_password_revoke(app_password=app_password, actor=request.user)


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "login", "protocol", "remote_ip", "tls", "result", "reason", "domain")
    list_filter = ("result", "protocol", "tls")
    search_fields = ("login", "remote_ip")
    date_hierarchy = "at"
    list_select_related = ("domain",)
    show_full_result_count = False  # no COUNT(*) over a month of attempts on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
