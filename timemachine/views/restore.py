"""The Time Machine's restore pages: "bring back to DAY" (what comes back, its price, confirm),
the progress of a request (a page and the JSON it polls), and "Deleted in the last 15 days"
with put-back.

Every view answers only a Time Machine session of a user with an active mailbox (common.py's
timemachine_view, the same rule as the browsing pages), and works on that mailbox only: a
request of another mailbox does not exist here (404)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.client_address import client_ip
from mailstore.errors import MailstoreError, NotFound
from mailstore.imap import LiveMailbox
from mailstore.recently_deleted import deleted_list, deleted_put_back
from snapshots.models import RestoreRequest, RestoreScope
from snapshots.restore import RestoreWhat, restore_preview, restore_price, restore_request_create
from snapshots.selectors import restore_request_of, restore_requests_of
from timemachine.views.common import timemachine_view

MAX_UIDS = 5000


def _context(request: HttpRequest, mailbox, **extra) -> dict:
    return {
        "mailbox": mailbox,
        "brand_name": request.brand.name,
        "brand_logo_url": request.brand.logo_url,
        **extra,
    }


def _what(params) -> RestoreWhat:
    """The request from ?day=&scope=&folder=&uids= (a POST repeats them as fields)."""
    errors: dict[str, list[str]] = {}
    try:
        day = datetime.date.fromisoformat(params.get("day", ""))
    except ValueError:
        errors["day"] = [_("Choose a day.")]
        day = datetime.date.min
    scope = params.get("scope") or RestoreScope.MAILBOX
    folder = (params.get("folder") or "").strip()
    uids: tuple[int, ...] = ()
    if params.get("uids"):
        try:
            uids = tuple(sorted({int(u) for u in params["uids"].split(",") if u.strip()}))
        except ValueError:
            errors["uids"] = [_("The list of messages is not valid.")]
        if len(uids) > MAX_UIDS or any(not 0 < u < 2**32 for u in uids):
            errors["uids"] = [_("The list of messages is not valid.")]
        if scope == RestoreScope.FOLDER:
            scope = RestoreScope.MESSAGES  # ?scope=folder&uids=… is "these messages of the folder"
    if scope not in RestoreScope.values:
        errors["scope"] = [_("Choose what to restore.")]
    if errors:
        raise ValidationError(errors)
    return RestoreWhat(day=day, scope=scope, folder=folder, uids=uids)


def _unavailable() -> str:
    return _("The mail server is not available. Try again in a few minutes.")


def _error_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


@timemachine_view
@require_http_methods(["GET", "POST"])
def restore(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox
    params = request.POST if request.method == "POST" else request.GET
    try:
        what = _what(params)
    except ValidationError as exc:
        return render(
            request,
            "timemachine/restore_error.html",
            _context(request, mailbox, errors=_error_messages(exc)),
            status=400,
        )
    if request.method == "POST":
        try:
            accepted = Decimal(request.POST.get("price", ""))
        except InvalidOperation:
            accepted = Decimal("-1")
        try:
            created = restore_request_create(
                mailbox=mailbox, what=what, actor=request.user, accepted_price=accepted
            )
        except ValidationError as exc:
            errors = _error_messages(exc)
        else:
            return redirect("timemachine:restore_progress", created.pk)
    else:
        errors = []
    try:
        plan = restore_preview(mailbox=mailbox, what=what)
    except ValidationError as exc:
        return render(
            request,
            "timemachine/restore_error.html",
            _context(request, mailbox, errors=_error_messages(exc)),
            status=400,
        )
    except NotFound:
        return render(
            request,
            "timemachine/restore_error.html",
            _context(request, mailbox, errors=[_("That folder did not exist on that day.")]),
            status=404,
        )
    except MailstoreError:
        return render(
            request,
            "timemachine/restore_error.html",
            _context(request, mailbox, errors=[_unavailable()]),
            status=503,
        )
    return render(
        request,
        "timemachine/restore_confirm.html",
        _context(
            request,
            mailbox,
            what=what,
            plan=plan,
            price=restore_price(),
            uids=",".join(str(u) for u in what.uids),
            quota_free=(plan.quota_limit - plan.quota_used) if plan.quota_limit is not None else None,
            errors=errors,
        ),
        status=400 if errors else 200,
    )


def _request_or_404(request: HttpRequest, pk: int) -> RestoreRequest:
    try:
        return restore_request_of(mailbox=request.mailbox, pk=pk)
    except RestoreRequest.DoesNotExist as exc:
        raise Http404 from exc


def _status(item: RestoreRequest) -> dict:
    return {
        "state": item.state,
        "state_label": item.get_state_display(),
        "percent": item.percent,
        "restored": item.restored_messages,
        "planned": item.planned_messages,
        "count_label": _("%(done)s of %(total)s messages")
        % {"done": item.restored_messages, "total": item.planned_messages},
        "finished": item.finished_at is not None,
        "error": item.error if item.state == "failed" else "",
    }


@timemachine_view
@require_GET
def restore_progress(request: HttpRequest, pk: int) -> HttpResponse:
    item = _request_or_404(request, pk)
    return render(
        request,
        "timemachine/restore_progress.html",
        _context(
            request,
            request.mailbox,
            item=item,
            status_url=reverse("timemachine:restore_status", args=[item.pk]),
            history=restore_requests_of(mailbox=request.mailbox)[:20],
        ),
    )


@timemachine_view(json=True)
@require_GET
def restore_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_status(_request_or_404(request, pk)))


@timemachine_view
@require_http_methods(["GET", "POST"])
def deleted(request: HttpRequest) -> HttpResponse:
    """Deleted in the last 15 days (Dovecot's lazy_expunge), newest first; put one back."""
    source = LiveMailbox(
        request.mailbox.address, client_ip=client_ip(request), client_name="mailsuite-timemachine"
    )
    message = ""
    status = 200
    try:
        if request.method == "POST":
            try:
                folder, uid = request.POST.get("folder", ""), int(request.POST.get("uid", ""))
            except ValueError:
                folder, uid = "", 0
            try:
                target = deleted_put_back(source, folder=folder, uid=uid)
            except NotFound:
                message, status = _("That message is no longer among the deleted ones."), 404
            else:
                message = _("The message is back in %(folder)s.") % {"folder": target}
        items = deleted_list(source)
    except MailstoreError:
        return render(
            request,
            "timemachine/restore_error.html",
            _context(
                request,
                request.mailbox,
                errors=[_unavailable()],
            ),
            status=503,
        )
    return render(
        request,
        "timemachine/restore_deleted.html",
        _context(request, request.mailbox, items=items, message=message),
        status=status,
    )
