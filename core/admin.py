"""Admin base classes for the back office, and the audit log's page.

The back office never writes a row itself: a ServiceAdmin calls the app's service from the
form's clean() (a validation error shows on the form); a ReadOnlyAdmin only lists and shows."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from core.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows; nobody adds, changes or deletes a row from the back office."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceAdmin(admin.ModelAdmin):
    """ModelAdmin whose writes are service calls made from the form's clean()."""

    def service_create(self, request, data: dict):
        raise NotImplementedError

    def service_update(self, request, obj, data: dict):
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(base):
            service_result = None

            def _post_clean(self):
                # The service validates (model full_clean and constraints); skip the ModelForm's
                # own instance validation so the same rule is not written twice.
                pass

            def clean(self):
                data = super().clean()
                if self.errors:
                    return data
                try:
                    if obj is None:
                        self.service_result = model_admin.service_create(request, data)
                    else:
                        self.service_result = model_admin.service_update(request, obj, data)
                except ValidationError as exc:
                    if hasattr(exc, "error_dict"):
                        for field, errors in exc.error_dict.items():
                            self.add_error(field if field in self.fields else None, errors)
                    else:
                        self.add_error(None, exc)
                return data

        return ServiceForm

    def save_model(self, request, obj, form, change):
        result = form.service_result
        if result is not None:
            obj.__dict__.update({k: v for k, v in result.__dict__.items() if not k.startswith("_")})
            obj.pk = result.pk

    def save_related(self, request, form, formsets, change):
        pass  # relations are written by the service


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "target", "customer", "domain")
    list_filter = ("action",)
    search_fields = ("target", "actor_label")
    list_select_related = ("customer", "domain")
