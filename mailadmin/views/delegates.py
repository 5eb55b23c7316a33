from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from domains import services
from domains.selectors import (
    delegate_for,
    delegate_grants_on_deleted_mailboxes,
    delegates_for,
    manager_for,
    manager_mailboxes,
)
from mailadmin.forms import DelegateForm, apply_service_errors
from mailadmin.views.common import panel_view


@panel_view
def delegate_list(request):
    delegates = delegates_for(user=request.user).prefetch_related("grants")
    return render(request, "mailadmin/delegate_list.html", {"delegates": delegates})


@panel_view
@require_http_methods(["GET", "POST"])
def delegate_create(request):
    manager = manager_for(user=request.user)
    form = DelegateForm(request.POST or None, mailboxes=manager_mailboxes(user=request.user), creating=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.delegate_create(
                manager=manager,
                username=d["username"],
                password=d["password"],
                name=d["name"],
                email=d["email"],
                expires_on=d["expires_on"],
                window_start=d["window_start"],
                window_end=d["window_end"],
                grants=form.grants(),
                actor=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Delegate created."))
            return redirect("mailadmin:delegates")
    return render(
        request,
        "mailadmin/delegate_form.html",
        {"form": form, "creating": True},
        status=400 if form.is_bound else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def delegate_edit(request, pk):
    delegate = delegate_for(user=request.user, pk=pk)
    mailboxes = manager_mailboxes(user=request.user)
    initial = {
        "name": delegate.name,
        "email": delegate.email,
        "expires_on": delegate.expires_on,
        "window_start": delegate.window_start,
        "window_end": delegate.window_end,
    }
    initial.update({f"grant_{g.mailbox_id}": g.access for g in delegate.grants.all()})
    kept = delegate_grants_on_deleted_mailboxes(delegate=delegate)
    form = DelegateForm(
        request.POST or None, mailboxes=mailboxes, creating=False, initial=initial, kept_grants=kept
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.delegate_update(
                delegate=delegate,
                grants=form.grants(),
                kept_grants=form.kept(),
                actor=request.user,
                name=d["name"],
                email=d["email"],
                expires_on=d["expires_on"],
                window_start=d["window_start"],
                window_end=d["window_end"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Delegate saved."))
            return redirect("mailadmin:delegates")
    return render(
        request,
        "mailadmin/delegate_form.html",
        {"form": form, "creating": False, "delegate": delegate},
        status=400 if form.is_bound else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def delegate_delete(request, pk):
    delegate = delegate_for(user=request.user, pk=pk)
    if request.method == "POST":
        services.delegate_delete(delegate=delegate, actor=request.user)
        messages.success(request, _("Delegate deleted."))
        return redirect("mailadmin:delegates")
    return render(request, "mailadmin/delegate_delete.html", {"delegate": delegate})
