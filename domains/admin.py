"""Back office for provider staff. Every create/change goes through the services: the admin
form's clean() calls the service, so a validation error shows on the form and nothing is
written by the admin itself."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from billing.inclusion import MIN_PROFILE, inclusion_for
from core.admin import ReadOnlyAdmin, ServiceAdmin
from domains import services
from domains.models import Customer, CustomerUser, Domain, DomainAlias, Mailbox, Manager, Site


class SiteInline(admin.TabularInline):
    model = Site
    fields = ("name", "profile", "voice_channels")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Customers with mailboxes and no site that makes them eligible (issue 15 item 4)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Not eligible, with mailboxes"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        eligible = Site.objects.filter(customer=OuterRef("pk"), profile__gte=MIN_PROFILE)
        return queryset.filter(domains__mailboxes__isnull=False).exclude(Exists(eligible)).distinct()


@admin.register(Customer)
class CustomerAdmin(ServiceAdmin):
    list_display = (
        "company_name",
        "vat_number",
        "legal_rep_name",
        "legal_rep_email",
        "included_mailboxes",
        "mailbox_count",
        "attention",
    )
    list_filter = (NeedsAttentionFilter,)
    search_fields = ("company_name", "vat_number", "legal_rep_name")
    inlines = [SiteInline]
    fields = ("company_name", "vat_number", "legal_rep_name", "legal_rep_email")

    @admin.display(description=_("included mailboxes"))
    def included_mailboxes(self, obj):
        return inclusion_for(obj.sites.all()).included_mailboxes

    @admin.display(description=_("mailboxes"))
    def mailbox_count(self, obj):
        return obj.n_mailboxes

    @admin.display(description=_("attention"))
    def attention(self, obj):
        if obj.n_mailboxes and not inclusion_for(obj.sites.all()).eligible:
            return _("Not eligible any more (no site with profile 1.5 or higher): new mailboxes refused")
        return "—"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("sites")
            .annotate(n_mailboxes=Count("domains__mailboxes", distinct=True))
        )

    def service_create(self, request, data):
        return services.customer_create(actor=request.user, **{k: data[k] for k in self.fields})

    def service_update(self, request, obj, data):
        stored = Customer.objects.get(pk=obj.pk)
        changes = {k: data[k] for k in self.fields if data[k] != getattr(stored, k)}
        return services.customer_update(customer=obj, actor=request.user, **changes)

    def has_delete_permission(self, request, obj=None):
        return False  # a customer with domains is protected; closing a contract is a service of its own


@admin.register(Site)
class SiteAdmin(ServiceAdmin):
    list_display = ("name", "customer", "profile", "voice_channels")
    list_filter = ("profile",)
    search_fields = ("name", "customer__company_name")
    list_select_related = ("customer",)
    fields = ("customer", "name", "profile", "voice_channels")

    def get_readonly_fields(self, request, obj=None):
        return ("customer",) if obj else ()

    def service_create(self, request, data):
        return services.site_create(actor=request.user, **{k: data[k] for k in self.fields})

    def service_update(self, request, obj, data):
        return services.site_update(
            site=obj, actor=request.user, **{k: data[k] for k in ("name", "profile", "voice_channels")}
        )

    def delete_model(self, request, obj):
        services.site_delete(site=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for site in queryset:
            services.site_delete(site=site, actor=request.user)


class DomainAddForm(forms.ModelForm):
    name = forms.CharField(label=_("domain name"), max_length=253)

    class Meta:
        model = Domain
        fields = ("customer", "name")


@admin.register(Domain)
class DomainAdmin(ServiceAdmin):
    list_display = ("name", "customer", "manager", "require_2fa", "mailbox_count", "created_at")
    search_fields = ("name", "customer__company_name")
    list_select_related = ("customer", "manager__user")
    readonly_fields = ("name", "customer", "manager", "brand_name", "brand_logo", "created_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = DomainAddForm
            kwargs["fields"] = ("customer", "name")
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("customer", "name")
        return ("name", "customer", "manager", "require_2fa", "brand_name", "brand_logo", "created_at")

    @admin.display(description=_("mailboxes"))
    def mailbox_count(self, obj):
        return obj.mailboxes.count()

    def service_create(self, request, data):
        return services.domain_register(customer=data["customer"], name=data["name"], actor=request.user)

    def service_update(self, request, obj, data):
        return services.domain_set_require_2fa(domain=obj, required=data["require_2fa"], actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


class ManagerAddForm(forms.ModelForm):
    username = forms.CharField(label=_("login"), max_length=150)
    email = forms.EmailField(label=_("email"), required=False)
    password = forms.CharField(label=_("password"), widget=forms.PasswordInput)
    domains = forms.ModelMultipleChoiceField(
        queryset=Domain.objects.all(), required=False, label=_("domains")
    )

    class Meta:
        model = Manager
        fields = ("customer",)


class ManagerChangeForm(forms.ModelForm):
    domains = forms.ModelMultipleChoiceField(
        queryset=Domain.objects.all(), required=False, label=_("domains")
    )

    class Meta:
        model = Manager
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["domains"].queryset = Domain.objects.filter(customer=self.instance.customer)
            self.initial["domains"] = list(self.instance.domains.values_list("pk", flat=True))


@admin.register(Manager)
class ManagerAdmin(ServiceAdmin):
    list_display = ("user", "customer", "domain_list")
    search_fields = ("user__username", "customer__company_name")
    list_select_related = ("user", "customer")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = ManagerAddForm if obj is None else ManagerChangeForm
        kwargs["fields"] = (
            ("customer", "username", "email", "password", "domains") if obj is None else ("domains",)
        )
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("customer", "username", "email", "password", "domains") if obj is None else ("domains",)

    @admin.display(description=_("domains"))
    def domain_list(self, obj):
        return ", ".join(d.name for d in obj.domains.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("domains")

    def service_create(self, request, data):
        return services.manager_create(
            customer=data["customer"],
            username=data["username"],
            password=data["password"],
            email=data.get("email") or "",
            domains=data["domains"],
            actor=request.user,
        )

    def service_update(self, request, obj, data):
        return services.manager_set_domains(manager=obj, domains=data["domains"], actor=request.user)


@admin.register(Mailbox)
class MailboxAdmin(ReadOnlyAdmin):
    """Read-only for staff: mailboxes are run by the domain's postmaster and manager."""

    list_display = (
        "__str__",
        "first_name",
        "last_name",
        "quota_tier",
        "send_limit",
        "is_active",
        "is_postmaster",
    )
    list_filter = ("quota_tier", "send_limit", "is_active")
    search_fields = ("local_part", "domain__name", "first_name", "last_name")
    list_select_related = ("domain",)


class CustomerUserAddForm(forms.ModelForm):
    username = forms.CharField(label=_("login"), max_length=150)
    email = forms.EmailField(label=_("email"), required=False)
    first_name = forms.CharField(label=_("first name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("last name"), max_length=150, required=False)
    password = forms.CharField(label=_("password"), widget=forms.PasswordInput)

    class Meta:
        model = CustomerUser
        fields = ("customer", "can_configure_mail")


@admin.register(CustomerUser)
class CustomerUserAdmin(ServiceAdmin):
    """One form creates the login (with its password) and the customer-area user."""

    list_display = ("user", "customer", "can_configure_mail")
    list_filter = ("can_configure_mail",)
    search_fields = ("user__username", "customer__company_name")
    list_select_related = ("user", "customer")

    ADD_FIELDS = (
        "customer",
        "username",
        "email",
        "first_name",
        "last_name",
        "password",
        "can_configure_mail",
    )

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CustomerUserAddForm
            kwargs["fields"] = self.ADD_FIELDS
        else:
            kwargs["fields"] = ("can_configure_mail",)
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.ADD_FIELDS if obj is None else ("user", "customer", "can_configure_mail")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "customer") if obj else ()

    def service_create(self, request, data):
        return services.customer_user_create(actor=request.user, **{k: data[k] for k in self.ADD_FIELDS})

    def service_update(self, request, obj, data):
        return services.customer_user_set_right(
            customer_user=obj, can_configure_mail=data["can_configure_mail"], actor=request.user
        )


@admin.register(DomainAlias)
class DomainAliasAdmin(ServiceAdmin):
    """Domain aliases are registered by provider staff (who check the customer holds the name):
    a name hosted here attracts all the suite's mail for it."""

    list_display = ("name", "domain", "created_at")
    search_fields = ("name", "domain__name")
    list_select_related = ("domain",)
    fields = ("name", "domain")

    def get_readonly_fields(self, request, obj=None):
        return ("name", "domain") if obj else ()

    def service_create(self, request, data):
        return services.domain_alias_create(domain=data["domain"], name=data["name"], actor=request.user)

    def service_update(self, request, obj, data):
        return obj  # nothing to change: delete and add again

    def delete_model(self, request, obj):
        services.domain_alias_delete(alias=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for alias in queryset:
            services.domain_alias_delete(alias=alias, actor=request.user)
