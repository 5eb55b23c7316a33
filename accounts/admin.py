from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "kind", "first_name", "last_name", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("mailsuite"), {"fields": ("kind", "must_change_password", "language")}),
    )
