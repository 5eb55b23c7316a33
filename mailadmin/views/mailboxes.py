from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.selectors import app_passwords_for
from archiving.forms import ArchiveRemoveForm, RetentionForm
from archiving.importing import active_import
from archiving.services import (
    archive_attach,
    archive_remove,
    archive_retention_cancel,
    archive_retention_change,
)
from core.audit import audit_record
from devices.selectors import device_of_mailbox, devices_of_mailbox
from devices.services import device_allow, device_block, device_wipe_request
from domains import services, twofactor
from domains.selectors import (
    MAILBOX_SORTS,
    domain_for,
    is_manager_of,
    mailbox_for,
    mailboxes_for,
    quota_usage,
)
from domains.services.common import generate_password
from mailadmin.forms import (
    ArchiveForm,
    MailboxCreateForm,
    MailboxDeleteForm,
    MailboxPasswordForm,
    MailboxProfileForm,
    QuotaForm,
    SendLimitForm,
    SuspendForm,
    apply_service_errors,
)
from mailadmin.views import pricing
from mailadmin.views.common import mailbox_url, paginate, panel_view
from mailstore.imap import LiveMailbox
from portalkit.exports import mailbox_export_response


@panel_view
def mailbox_list(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    search = request.GET.get("q", "").replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
    sort = request.GET.get("sort", "address")
    if sort not in MAILBOX_SORTS:
        sort = "address"
    # Every sort ends with the mailbox name, unique in the domain: a total order.
    page = paginate(
        request, mailboxes_for(user=request.user, domain=domain, search=search, sort=sort), far_end=True
    )
    rows = list(page.object_list)
    usage = quota_usage([m.address for m in rows])
    # The rows' links from one reversed URL (a reverse per row was a tenth of the page's time).
    url_base = reverse("mailadmin:mailbox", args=[domain.name, 0])[: -len("0/")]
    for m in rows:
        m.url = f"{url_base}{m.pk}/"
        m.used_bytes, m.used_messages = usage.get(m.address, (0, 0))
        m.used_percent = min(100, round(100 * m.used_bytes / m.quota_bytes)) if m.quota_bytes else 0
    return render(
        request,
        "mailadmin/mailbox_list.html",
        {
            "domain": domain,
            "page": page,
            "rows": rows,
            "search": search,
            "sort": sort,
            "is_manager": is_manager_of(request.user, domain),
        },
    )


@panel_view
@require_http_methods(["GET", "POST"])
def mailbox_create(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    form = MailboxCreateForm(pricing.form_data(request) if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.mailbox_create_allowed(domain)  # before any price: a refusal says why at once
        except ValidationError as exc:
            apply_service_errors(form, exc)
            return render(
                request, "mailadmin/mailbox_create.html", {"domain": domain, "form": form}, status=400
            )
        reasons = pricing.reasons_for(domain=domain, creating=True, quota_tier=data["quota_tier"])
        if reasons and not pricing.confirmed(request):
            price = pricing.preview(domain=domain, change="mailbox_create", quota_tier=data["quota_tier"])
            return pricing.confirm_charge(
                request,
                domain=domain,
                reasons=reasons,
                price=price,
                title=_("Create mailbox"),
                cancel_url=reverse("mailadmin:mailboxes", args=[domain.name]),
            )
        password = (
            generate_password(
                login=f"{data['local_part']}@{domain.name}".lower(),
                names=(data["first_name"], data["last_name"]),
            )
            if data["generate_password"]
            else data["password"]
        )
        try:
            mailbox = services.mailbox_create(
                domain=domain,
                local_part=data["local_part"],
                password=password,
                first_name=data["first_name"],
                last_name=data["last_name"],
                quota_tier=data["quota_tier"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            return render(
                request,
                "mailadmin/mailbox_created.html",
                {
                    "domain": domain,
                    "mailbox": mailbox,
                    "password": password if data["generate_password"] else None,
                },
            )
    status = 400 if form.is_bound else 200
    return render(request, "mailadmin/mailbox_create.html", {"domain": domain, "form": form}, status=status)


def _detail(request, domain, mailbox, status=200, **forms):
    is_manager = is_manager_of(request.user, domain)
    plan = getattr(mailbox, "archive_plan", None)
    archive = plan.archive if plan is not None else None
    context = {
        "domain": domain,
        "mailbox": mailbox,
        "is_manager": is_manager,
        "has_totp": twofactor.has_totp(mailbox.user),
        "app_passwords": list(app_passwords_for(user=mailbox.user)),
        "archive_plan": getattr(mailbox, "archive_plan", None),
        "usage": quota_usage([mailbox.address]).get(mailbox.address, (0, 0)),
        "profile_form": forms.get("profile_form")
        or MailboxProfileForm(initial={"first_name": mailbox.first_name, "last_name": mailbox.last_name}),
        "password_form": forms.get("password_form") or MailboxPasswordForm(),
        "quota_form": forms.get("quota_form") or QuotaForm(initial={"quota_tier": mailbox.quota_tier}),
        "send_limit_form": forms.get("send_limit_form")
        or SendLimitForm(initial={"send_limit": mailbox.send_limit}),
        "archive_form": forms.get("archive_form") or ArchiveForm(),
        "suspend_form": forms.get("suspend_form") or SuspendForm(),
        "archive": archive,
        "archive_remove_form": forms.get("archive_remove_form") or ArchiveRemoveForm(),
        "retention_form": forms.get("retention_form")
        or RetentionForm(initial={"retention_years": archive.retention_years if archive else 10}),
        "archive_import": active_import(archive) if archive else None,
        "devices": list(devices_of_mailbox(mailbox=mailbox)),
    }
    return render(request, "mailadmin/mailbox_detail.html", context, status=status)


def _load(request, domain_name, pk, *, manager_only=False):
    """Access first, then the method: an outsider gets the same 404 for every URL."""
    domain = domain_for(user=request.user, name=domain_name, manager_only=manager_only)
    return domain, mailbox_for(user=request.user, domain=domain, pk=pk)


@panel_view
def mailbox_detail(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    return _detail(request, domain, mailbox)


@panel_view
def mailbox_profile(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = MailboxProfileForm(request.POST)
    if form.is_valid():
        try:
            services.mailbox_update(mailbox=mailbox, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Personal data saved."))
            return redirect(mailbox_url(domain, mailbox))
    return _detail(request, domain, mailbox, status=400, profile_form=form)


@panel_view
def mailbox_password(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = MailboxPasswordForm(request.POST)
    if form.is_valid():
        generated = form.cleaned_data["generate_password"]
        password = generate_password(user=mailbox.user) if generated else form.cleaned_data["password"]
        try:
            services.mailbox_set_password(
                mailbox=mailbox,
                password=password,
                actor=request.user,
                must_change=form.cleaned_data["must_change"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if generated:
                messages.success(
                    request,
                    _("New password: %(password)s — it will not be shown again.") % {"password": password},
                )
            else:
                messages.success(request, _("Password changed."))
            return redirect(mailbox_url(domain, mailbox))
    return _detail(request, domain, mailbox, status=400, password_form=form)


def _tier_change(request, domain, mailbox, form, field, form_key):
    if not form.is_valid():
        return _detail(request, domain, mailbox, status=400, **{form_key: form})
    value = form.cleaned_data[field]
    reasons = pricing.reasons_for(domain=domain, mailbox=mailbox, **{field: value})
    if reasons and not pricing.confirmed(request):
        price = pricing.preview(domain=domain, change="mailbox_update", mailbox=mailbox, **{field: value})
        return pricing.confirm_charge(
            request,
            domain=domain,
            reasons=reasons,
            price=price,
            title=str(mailbox),
            cancel_url=mailbox_url(domain, mailbox),
        )
    try:
        services.mailbox_update(mailbox=mailbox, actor=request.user, **{field: value})
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return _detail(request, domain, mailbox, status=400, **{form_key: form})
    messages.success(request, _("Saved."))
    return redirect(mailbox_url(domain, mailbox))


@panel_view
def mailbox_quota(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return _tier_change(request, domain, mailbox, QuotaForm(request.POST), "quota_tier", "quota_form")


@panel_view
def mailbox_send_limit(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk, manager_only=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return _tier_change(
        request, domain, mailbox, SendLimitForm(request.POST), "send_limit", "send_limit_form"
    )


@panel_view
def mailbox_export(request, domain_name, pk):
    """The whole mailbox as a streamed .zip of one mbox per folder (Postmaster or Manager),
    audited like every access to a user's mail from the panel."""
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    audit_record(
        actor=request.user,
        action="mailbox.export",
        domain=domain,
        target=mailbox.address,
        after={"by": "admin"},
    )
    source = LiveMailbox(mailbox.address, client_name="mailsuite-export")
    return mailbox_export_response(source, address=mailbox.address)


@panel_view
def mailbox_security(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    action = request.POST.get("action")
    if action in ("require_2fa", "unrequire_2fa"):
        services.mailbox_update(mailbox=mailbox, actor=request.user, require_2fa=action == "require_2fa")
        messages.success(request, _("Saved."))
    elif action == "reset_2fa":
        twofactor.totp_reset(mailbox.user, request.user)
        messages.success(request, _("Two-factor authentication was reset."))
    elif action == "revoke_app_passwords":
        count = services.mailbox_revoke_app_passwords(mailbox=mailbox, actor=request.user)
        messages.success(request, _("App passwords revoked: %(n)d.") % {"n": count})
    else:
        return HttpResponseBadRequest(_("Unknown action."))
    return redirect(mailbox_url(domain, mailbox))


DEVICE_ACTIONS = {"block": device_block, "allow": device_allow, "wipe": device_wipe_request}


@panel_view
def mailbox_device(request, domain_name, pk, device_pk):
    """Block, allow again or remotely wipe one of the mailbox's phones (Postmaster or Manager)."""
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    device = device_of_mailbox(mailbox=mailbox, pk=device_pk)
    if device is None:
        raise Http404
    change = DEVICE_ACTIONS.get(request.POST.get("action", ""))
    if change is None:
        return HttpResponseBadRequest(_("Unknown action."))
    change(device=device, actor=request.user)
    messages.success(request, _("Saved."))
    return redirect(mailbox_url(domain, mailbox) + "#devices")


@panel_view
def mailbox_suspension(request, domain_name, pk):
    """Suspend (with the choice for new mail) or resume a mailbox: Postmaster or Manager."""
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    action = request.POST.get("action")
    if action == "resume":
        services.mailbox_resume(mailbox=mailbox, actor=request.user)
        messages.success(request, _("The mailbox is active again."))
        return redirect(mailbox_url(domain, mailbox))
    if action != "suspend":
        return HttpResponseBadRequest(_("Unknown action."))
    form = SuspendForm(request.POST)
    if not form.is_valid():
        return _detail(request, domain, mailbox, status=400, suspend_form=form)
    try:
        services.mailbox_suspend(
            mailbox=mailbox, actor=request.user, receive_mail=form.cleaned_data["mail"] == "deliver"
        )
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return _detail(request, domain, mailbox, status=400, suspend_form=form)
    messages.success(request, _("The mailbox is suspended: it cannot log in anywhere."))
    return redirect(mailbox_url(domain, mailbox))


@panel_view
def mailbox_sending_release(request, domain_name, pk):
    """Lift the hold on a mailbox's outgoing mail (a message scored as spam): Postmaster or Manager."""
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.POST.get("action") != "release":
        return HttpResponseBadRequest(_("Unknown action."))
    services.mailbox_sending_release(mailbox=mailbox, actor=request.user)
    messages.success(request, _("Outgoing mail is released: the mailbox can send outside the suite again."))
    return redirect(mailbox_url(domain, mailbox))


@panel_view
def mailbox_archive(request, domain_name, pk):
    """Attach (then the import wizard) or remove the mailbox's archive: the Manager only."""
    domain, mailbox = _load(request, domain_name, pk, manager_only=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.POST.get("action") == "remove":
        remove_form = ArchiveRemoveForm(request.POST)
        if remove_form.is_valid():
            try:
                archive_remove(
                    mailbox=mailbox,
                    confirm_address=remove_form.cleaned_data["confirm_address"],
                    actor=request.user,
                )
            except ValidationError as exc:
                apply_service_errors(remove_form, exc)
            else:
                messages.success(request, _("Archive removed."))
                return redirect(mailbox_url(domain, mailbox))
        return _detail(request, domain, mailbox, status=400, archive_remove_form=remove_form)
    form = ArchiveForm(request.POST)
    if not form.is_valid():
        return _detail(request, domain, mailbox, status=400, archive_form=form)
    if not pricing.confirmed(request):
        price = pricing.preview(domain=domain, change="archive_attach", mailbox=mailbox)
        return pricing.confirm_charge(
            request,
            domain=domain,
            reasons=pricing.reasons_for(domain=domain, archive=True),
            price=price,
            title=str(mailbox),
            cancel_url=mailbox_url(domain, mailbox),
        )
    try:
        archive_attach(
            mailbox=mailbox, retention_years=form.cleaned_data["retention_years"], actor=request.user
        )
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return _detail(request, domain, mailbox, status=400, archive_form=form)
    messages.success(request, _("Archive attached."))
    # Right after attaching: the import wizard (the mail already in the mailbox).
    return redirect("mailadmin:mailbox_archive_import", domain.name, mailbox.pk)


@panel_view
def mailbox_archive_retention(request, domain_name, pk):
    """Change the retention (longer at once, shorter in 30 days) or cancel a pending
    shortening. A Postmaster may lengthen or cancel, never shorten."""
    domain, mailbox = _load(request, domain_name, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    may_shorten = is_manager_of(request.user, domain)
    if request.POST.get("action") == "cancel":
        try:
            archive_retention_cancel(mailbox=mailbox, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The change of the retention was cancelled."))
        return redirect(mailbox_url(domain, mailbox))
    form = RetentionForm(request.POST)
    if form.is_valid():
        try:
            archive = archive_retention_change(
                mailbox=mailbox,
                retention_years=form.cleaned_data["retention_years"],
                actor=request.user,
                may_shorten=may_shorten,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if archive.pending_retention_years is not None:
                messages.success(
                    request,
                    _("The shorter retention takes effect in 30 days; it can be cancelled until then."),
                )
            else:
                messages.success(request, _("Retention changed."))
            return redirect(mailbox_url(domain, mailbox))
    return _detail(request, domain, mailbox, status=400, retention_form=form)


@panel_view
@require_http_methods(["GET", "POST"])
def mailbox_delete(request, domain_name, pk):
    domain, mailbox = _load(request, domain_name, pk)
    form = MailboxDeleteForm(request.POST or None, address=mailbox.address)
    if request.method == "POST" and form.is_valid():
        try:
            services.mailbox_delete(mailbox=mailbox, actor=request.user)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Mailbox %(address)s deleted.") % {"address": mailbox.address})
            return redirect("mailadmin:mailboxes", domain.name)
    return render(
        request,
        "mailadmin/mailbox_delete.html",
        {
            "domain": domain,
            "mailbox": mailbox,
            "form": form,
            "archive_plan": getattr(mailbox, "archive_plan", None),
            "usage": quota_usage([mailbox.address]).get(mailbox.address, (0, 0)),
        },
        status=400 if form.is_bound else 200,
    )
