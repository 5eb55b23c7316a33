"""A message list as the portals show it (webmail, Time Machine): its sorts, the search read from
the query string, and the rows.

The rows are rendered in Python: the list is the page people open most, and the template
engine's per-row cost (URL reversing, filters) was half its server time (measured with
bench/webmail_list.py: 50 rows took ~15 ms in a template, under 2 ms here)."""

from __future__ import annotations

from datetime import date
from html import escape
from urllib.parse import quote

from django.http import HttpRequest
from django.utils import dateformat, formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailstore.reader import SORT_KEYS, ListItem, Search, Thread
from portalkit.icons import icon_html, sprite_url

# Lazy: the labels follow the language of each request, not the one active at import.
SORTS = {
    "date": gettext_lazy("Date"),
    "from": gettext_lazy("Sender"),
    "subject": gettext_lazy("Subject"),
    "size": gettext_lazy("Size"),
}
SEARCH_FIELDS = ("all", "from", "to", "subject", "body")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def search_from(request: HttpRequest) -> Search:
    """The search of a list page's query string (q, in, since, until, unseen, flagged)."""
    g = request.GET
    where = g.get("in", "all")
    return Search(
        text=g.get("q", "")[:200],
        where=where if where in SEARCH_FIELDS else "all",
        since=_date(g.get("since", "")),
        before=_date(g.get("until", "")),
        unseen=g.get("unseen") == "1",
        flagged=g.get("flagged") == "1",
    )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def list_order(request: HttpRequest) -> tuple[str, bool, int]:
    """(sort key, newest/largest first, page number) of a list page's query string."""
    sort = request.GET.get("sort", "date")
    sort = sort if sort in SORT_KEYS else "date"
    reverse = request.GET.get("order", "desc") != "asc"
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    return sort, reverse, page


def list_query(*, search: Search, sort: str, reverse: bool) -> dict[str, str]:
    """The query-string parameters that keep a list's order and search across its pages."""
    return {
        "sort": sort,
        "order": "desc" if reverse else "asc",
        "q": search.text,
        "in": search.where if search.where != "all" else "",
        "since": search.since.isoformat() if search.since else "",
        "until": search.before.isoformat() if search.before else "",
        "unseen": "1" if search.unseen else "",
        "flagged": "1" if search.flagged else "",
    }


def rows_html(
    items: list[ListItem],
    *,
    folder: str,
    show_recipients: bool,
    base: str,
    selectable: bool = True,
    threads: list[Thread] | None = None,
    thread_base: str = "",
) -> SafeString:
    """The <li> rows of `items`; a row links to f"{base}{uid}/?f={folder}" (`base`: the portal's
    message URL without its UID), with a selection checkbox when `selectable`. With `threads`
    (one per item) and `thread_base` (the conversation URL without its UID), a conversation of
    several messages is one row with their count, opening the conversation; selecting it selects
    all of them."""
    fq = quote(folder, safe="")
    t_messages = _("messages in the conversation")
    t_unread, t_flag, t_answered, t_attach = _("Unread"), _("Flagged"), _("Answered"), _("Attachment")
    t_select, t_none = _("Select"), _("(no subject)")
    sprite = sprite_url()  # the icons once, not per row
    i_unread = icon_html("dot", label=t_unread, sprite=sprite)
    i_flag = icon_html("flag", label=t_flag, sprite=sprite)
    i_answered = icon_html("reply", label=t_answered, sprite=sprite)
    i_attach = icon_html("paperclip", label=t_attach, sprite=sprite)
    date_fmt = formats.get_format("SHORT_DATETIME_FORMAT")  # once, not per row (date_format looks it up)
    out = []
    for i, m in enumerate(items):
        thread = threads[i] if threads else None
        if thread is not None and thread.count > 1:
            href = f"{thread_base}{m.uid}/?f={fq}"
            value = ",".join(str(u) for u in thread.uids)
            count = f' <span class="wm-thread-count" title="{t_messages}">{thread.count}</span>'
            seen, unseen = not thread.unseen, thread.unseen
        else:
            href = f"{base}{m.uid}/?f={fq}"
            value, count, seen, unseen = str(m.uid), "", m.seen, int(not m.seen)
        people = m.to if show_recipients else m.sender
        who = ", ".join(a.display for a in people) or "—"
        marks = []
        if not seen:
            marks.append(f'<span class="mark-unread" title="{t_unread}">{i_unread}</span>')
        if m.flagged:
            marks.append(f'<span class="mark-flag" title="{t_flag}">{i_flag}</span>')
        if m.answered:
            marks.append(f'<span class="mark-answered" title="{t_answered}">{i_answered}</span>')
        if m.has_attachment:
            marks.append(f'<span class="mark-attach" title="{t_attach}">{i_attach}</span>')
        check = (
            f'<input type="checkbox" name="uid" value="{value}" aria-label="{escape(t_select)}">'
            if selectable
            else ""
        )
        classes = "wm-row" if selectable else "wm-row wm-row-plain"
        classes += ("" if seen else " unread") + (" flagged" if m.flagged else "")
        classes += " thread" if count else ""
        when = ""
        if m.date:
            local = timezone.localtime(m.date) if timezone.is_aware(m.date) else m.date
            when = (
                f'<time class="when" datetime="{local.isoformat()}">'
                f"{escape(dateformat.format(local, date_fmt))}</time>"
            )
        else:
            when = '<time class="when"></time>'
        out.append(
            f'<li class="{classes}" data-uid="{m.uid}" data-href="{escape(href)}" data-unseen="{unseen}">'
            f"{check}"
            f'<span class="marks">{"".join(marks)}</span>'
            f'<a class="who" href="{escape(href)}">{escape(who)}{count}</a>'
            f'<a class="subject" href="{escape(href)}">{escape(m.subject or t_none)}</a>'
            f'{when}<span class="size">{_size(m.size)}</span></li>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
