from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.exports import access_log_csv
from accounts.models import AccessLogEntry
from domains import services
from domains.selectors import access_log_for, audit_for, domain_for, is_manager_of
from mailadmin.forms import BrandingForm, DomainSecurityForm, LogFilterForm, apply_service_errors
from mailadmin.views.common import paginate, panel_view


@panel_view
@require_http_methods(["GET", "POST"])
def domain_security(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    form = DomainSecurityForm(request.POST or None, initial={"require_2fa": domain.require_2fa})
    if request.method == "POST" and form.is_valid():
        services.domain_set_require_2fa(
            domain=domain, required=form.cleaned_data["require_2fa"], actor=request.user
        )
        messages.success(request, _("Saved."))
        return redirect("mailadmin:domain_security", domain.name)
    return render(
        request,
        "mailadmin/domain_security.html",
        {
            "domain": domain,
            "form": form,
            "is_manager": is_manager_of(request.user, domain),
        },
        status=400 if form.is_bound else 200,
    )


@panel_view
@require_http_methods(["GET", "POST"])
def domain_branding(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name, manager_only=True)
    form = BrandingForm(
        request.POST or None, request.FILES or None, initial={"brand_name": domain.brand_name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.domain_set_branding(
                domain=domain,
                brand_name=form.cleaned_data["brand_name"],
                logo=form.cleaned_data["brand_logo"] or None,
                remove_logo=form.cleaned_data["remove_logo"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Branding saved."))
            return redirect("mailadmin:domain_branding", domain.name)
    return render(
        request,
        "mailadmin/domain_branding.html",
        {
            "domain": domain,
            "form": form,
            "is_manager": True,
        },
        status=400 if form.is_bound else 200,
    )


@panel_view
def audit_log(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    page = paginate(request, audit_for(user=request.user, domain=domain))
    return render(
        request,
        "mailadmin/audit_log.html",
        {
            "domain": domain,
            "page": page,
            "is_manager": is_manager_of(request.user, domain),
        },
    )


def _filters(request) -> tuple[LogFilterForm, dict]:
    """The filters that are valid; the invalid ones are shown as errors (never silently dropped
    along with the valid ones: the page and its CSV keep the rest of the filter)."""
    form = LogFilterForm(request.GET or None)
    data = {}
    if form.is_bound:
        form.is_valid()  # cleaned_data keeps the valid fields, errors name the others
        data = form.cleaned_data
    return form, {k: v for k, v in data.items() if v}


@panel_view
def access_log(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name)
    form, data = _filters(request)
    protocol = request.GET.get("protocol", "")
    result = request.GET.get("result", "")
    rows = access_log_for(
        actor=request.user,
        domain=domain,
        login=data.get("q", ""),
        protocol=protocol if protocol in AccessLogEntry.Protocol.values else "",
        result=result if result in AccessLogEntry.Result.values else "",
        since=data.get("since"),
        until=data.get("until"),
    )
    if request.GET.get("format") == "csv" and not form.errors:
        return _csv_download(access_log_csv(rows.iterator()), f"access-log-{domain.name}.csv")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mailadmin/access_log.html",
        {
            "domain": domain,
            "form": form,
            "page": paginate(request, rows),
            "protocol": protocol,
            "result": result,
            "protocols": AccessLogEntry.Protocol.choices,
            "results": AccessLogEntry.Result.choices,
            "query": query.urlencode(),
            "is_manager": is_manager_of(request.user, domain),
        },
        status=400 if form.errors else 200,
    )


def _csv_download(lines, filename: str) -> StreamingHttpResponse:
    """A CSV export streamed as its lines are produced (the access log and Tracemail)."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@panel_view
def tracemail(request, domain_name):
    from mta.models import TracemailEntry
    from mta.selectors import tracemail_csv_lines, tracemail_for

    domain = domain_for(user=request.user, name=domain_name)
    form, data = _filters(request)
    direction = request.GET.get("direction", "")
    status = request.GET.get("status", "")
    filters = {
        "text": data.get("q"),
        "since": data.get("since"),
        "until": data.get("until"),
        "direction": direction if direction in TracemailEntry.Direction.values else None,
        "status": status if status in TracemailEntry.Status.values else None,
    }
    if request.GET.get("format") == "csv" and not form.errors:
        return _csv_download(
            tracemail_csv_lines(actor=request.user, domain=domain, **filters), f"tracemail-{domain.name}.csv"
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mailadmin/tracemail.html",
        {
            "domain": domain,
            "form": form,
            "page": paginate(request, tracemail_for(actor=request.user, domain=domain, **filters)),
            "direction": direction,
            "status": status,
            "directions": TracemailEntry.Direction.choices,
            "statuses": TracemailEntry.Status.choices,
            "query": query.urlencode(),
            "is_manager": is_manager_of(request.user, domain),
        },
        status=400 if form.errors else 200,
    )
