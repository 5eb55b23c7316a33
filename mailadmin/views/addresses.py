"""Addresses of a domain: aliases, forwarders, distribution lists, the catch-all; the domain
aliases (registered by the provider) shown read-only. Postmaster and Manager alike; free."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from domains import services
from domains.selectors import (
    address_for,
    address_targets_for,
    addresses_for,
    domain_aliases_for,
    domain_for,
    is_manager_of,
    mailboxes_for,
)
from mailadmin.forms import AddressForm, apply_service_errors
from mailadmin.views.common import panel_view


@panel_view
def address_list(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    rows = list(addresses_for(user=request.user, domain=domain))
    return render(
        request,
        "mailadmin/address_list.html",
        {
            "domain": domain,
            "is_manager": is_manager_of(request.user, domain),
            "catch_all": next((a for a in rows if a.is_catch_all), None),
            "rows": [a for a in rows if not a.is_catch_all],
            "domain_aliases": domain_aliases_for(user=request.user, domain=domain),
        },
    )


def _form(request, domain, *, editing=None, data=None, initial=None):
    return AddressForm(
        data,
        initial=initial,
        targets=address_targets_for(user=request.user, domain=domain),
        mailboxes=mailboxes_for(user=request.user, domain=domain),
        editing=editing,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def address_create(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    kind = request.GET.get("kind", "alias")
    form = _form(request, domain, data=request.POST or None, initial={"kind": kind})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        catch_all = d["kind"] == "catchall"
        try:
            services.address_create(
                domain=domain,
                kind="alias" if catch_all else d["kind"],
                local_part=d["local_part"],
                catch_all=catch_all,
                targets=list(d["targets"]),
                externals=form.externals(),
                owner=d["owner"],
                posting=d["posting"],
                description=d["description"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Address created."))
            return redirect("mailadmin:addresses", domain.name)
    return render(
        request,
        "mailadmin/address_form.html",
        {"domain": domain, "form": form, "creating": True, "is_manager": is_manager_of(request.user, domain)},
        status=400 if form.is_bound else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def address_edit(request, domain_name, pk):
    domain = domain_for(user=request.user, name=domain_name)
    address = address_for(user=request.user, domain=domain, pk=pk)
    initial = {
        "targets": [t.target_id for t in address.targets.all() if t.target_id],
        "external": "\n".join(t.external for t in address.targets.all() if not t.target_id),
        "owner": address.owner_id,
        "posting": address.posting,
        "description": address.description,
    }
    form = _form(request, domain, editing=address, data=request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.address_update(
                address=address,
                targets=list(d["targets"]),
                externals=form.externals(),
                owner=d["owner"],
                posting=d["posting"],
                description=d["description"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Address saved."))
            return redirect("mailadmin:addresses", domain.name)
    return render(
        request,
        "mailadmin/address_form.html",
        {
            "domain": domain,
            "form": form,
            "address": address,
            "is_manager": is_manager_of(request.user, domain),
        },
        status=400 if form.is_bound else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def address_delete(request, domain_name, pk):
    domain = domain_for(user=request.user, name=domain_name)
    address = address_for(user=request.user, domain=domain, pk=pk)
    if request.method == "POST":
        services.address_delete(address=address, actor=request.user)
        messages.success(request, _("Address deleted."))
        return redirect("mailadmin:addresses", domain.name)
    return render(
        request,
        "mailadmin/address_delete.html",
        {"domain": domain, "address": address, "is_manager": is_manager_of(request.user, domain)},
    )
