"""Folders and message lists."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from mailstore.errors import NotFound, Refused
from mailstore.folders import SEPARATOR, is_protected
from portalkit.listing import SORTS, list_order, list_query, rows_html, search_from
from webmail.views.common import (
    folder_param,
    mailbox_session,
    page_size,
    shell_for,
    threaded,
    webmail_view,
)


def list_url(folder: str, **params) -> str:
    query = {"f": folder, **{k: v for k, v in params.items() if v not in (None, "", False)}}
    return f"{reverse('webmail:list')}?{urlencode(query)}"


@webmail_view(unavailable_status=200)
def home(request: HttpRequest) -> HttpResponse:
    """The inbox (the portal's landing page)."""
    return _list(request, "INBOX")


@webmail_view
def message_list(request: HttpRequest) -> HttpResponse:
    return _list(request, folder_param(request))


def _list(request: HttpRequest, folder: str) -> HttpResponse:
    sort, reverse_order, page_number = list_order(request)
    search = search_from(request)
    per_page = page_size(request)
    # Conversations: newest first, so only in the default order (a list sorted by sender or
    # size is a list of messages).
    as_threads = threaded(request) and sort == "date" and reverse_order
    with mailbox_session(request) as mail:
        folders = mail.folder_tree(cached=True)
        if folder not in {f.name for f in folders}:
            folders = mail.folder_tree()  # created since the tree was cached?
            if folder not in {f.name for f in folders}:
                raise NotFound(f"no folder {folder!r}")
        if as_threads:
            page = mail.thread_page(folder, search=search, page=page_number, per_page=per_page)
        else:
            page = mail.message_page(
                folder, sort=sort, reverse=reverse_order, search=search, page=page_number, per_page=per_page
            )
        current = next(f for f in folders if f.name == folder)
        if not search.active and current.messages != page.messages:
            # Mail arrived or left since the tree was cached: its counts are stale.
            folders = mail.folder_tree()
            current = next((f for f in folders if f.name == folder), current)
    request.wm_shell = shell_for(request, folders=folders, current=folder)
    base = list_query(search=search, sort=sort, reverse=reverse_order)
    context = {
        "folders": folders,
        "folder": current,
        "page": page,
        "rows": rows_html(
            page.items,
            folder=folder,
            show_recipients=current.special in ("Sent", "Drafts"),
            base=reverse("webmail:message", args=[0])[: -len("0/")],
            threads=page.threads if as_threads else None,
            thread_base=reverse("webmail:thread", args=[0])[: -len("0/")],
        ),
        "threaded": as_threads,
        "sort": sort,
        "order": base["order"],
        "sorts": SORTS,
        "search": search,
        "prev_url": list_url(folder, **base, page=page.number - 1) if page.has_previous else "",
        "next_url": list_url(folder, **base, page=page.number + 1) if page.has_next else "",
        "query_string": urlencode({k: v for k, v in base.items() if v}),
        "move_targets": [f for f in folders if f.name != folder and f.selectable],
    }
    return render(request, "webmail/list.html", context)


ACTIONS = {"read", "unread", "flag", "unflag", "move", "delete", "empty"}


@require_POST
@webmail_view
def actions(request: HttpRequest) -> HttpResponse:
    folder = folder_param(request)
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return HttpResponse(status=400)
    try:
        # A conversation's row sends all of its UIDs in one value: "12,15,31".
        uids = sorted(
            {int(u) for value in request.POST.getlist("uid") for u in value.split(",")[:1000] if u.isdigit()}
        )
    except ValueError:
        uids = []
    with mailbox_session(request) as mail:
        if action == "empty":
            count = mail.folder_empty(folder) if folder in ("Trash", "Junk") else 0
            done = ngettext("%(n)d message deleted for good.", "%(n)d messages deleted for good.", count)
        elif action == "move":
            target = request.POST.get("target", "")
            count = mail.messages_move(folder, uids, target)
            done = ngettext("%(n)d message moved.", "%(n)d messages moved.", count)
        elif action == "delete":
            count = mail.messages_delete(folder, uids)
            done = ngettext("%(n)d message deleted.", "%(n)d messages deleted.", count)
        else:
            mail.flags_change(folder, uids, action)
            done = ""
    if done:
        messages.success(request, done % {"n": count})
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    next_url = request.POST.get("next", "")
    if next_url.startswith("/webmail/") and not next_url.startswith("//"):
        return redirect(next_url)
    return redirect(list_url(folder))


@webmail_view
def folders(request: HttpRequest) -> HttpResponse:
    with mailbox_session(request) as mail:
        tree = mail.folder_tree()
    request.wm_shell = shell_for(request, folders=tree)
    return render(request, "webmail/folders.html", {"folders": tree, "folder": None})


def _valid_folder_name(name: str) -> str:
    name = (name or "").strip().strip(SEPARATOR)
    # Quotes and backslashes are fine (imapclient quotes them, mail clients allow them); LIST
    # wildcards and control characters are not.
    if not name or len(name) > 200 or any(c in name for c in "*%") or not name.isprintable() or "//" in name:
        return ""
    if is_protected(name.split(SEPARATOR)[0]) and SEPARATOR not in name:
        return ""
    return name


@require_POST
@webmail_view
def folder_change(request: HttpRequest) -> HttpResponse:
    try:
        return _folder_change(request)
    except Refused:
        # Dovecot said no: a parent that exists only as a path of its subfolders (\NonExistent),
        # a folder with subfolders, a name too long once encoded. Not a server error.
        messages.error(request, _("The mail server refused this change to the folders."))
        return redirect("webmail:folders")


def _folder_change(request: HttpRequest) -> HttpResponse:
    op = request.POST.get("op", "")
    with mailbox_session(request) as mail:
        existing = mail.folder_names()
        if op == "create":
            parent = request.POST.get("parent", "")
            name = _valid_folder_name(request.POST.get("name", ""))
            full = f"{parent}{SEPARATOR}{name}" if parent and parent in existing else name
            if not name or full in existing:
                messages.error(request, _("Choose another folder name."))
            else:
                mail.folder_create(full)
                messages.success(request, _("Folder created."))
        elif op in ("rename", "delete"):
            old = request.POST.get("folder", "")
            if old not in existing:
                raise NotFound(f"no folder {old!r}")
            if is_protected(old):
                messages.error(request, _("This folder cannot be renamed or deleted."))
                return redirect("webmail:folders")
            if op == "delete":
                mail.folder_delete(old)
                messages.success(request, _("Folder deleted."))
            else:
                new_leaf = _valid_folder_name(request.POST.get("name", ""))
                parent = old.rpartition(SEPARATOR)[0]
                new = f"{parent}{SEPARATOR}{new_leaf}" if parent else new_leaf
                if not new_leaf or new in existing:
                    messages.error(request, _("Choose another folder name."))
                else:
                    mail.folder_rename(old, new)
                    messages.success(request, _("Folder renamed."))
        else:
            return HttpResponse(status=400)
    return redirect("webmail:folders")
