"""A message list as the portals show it (webmail, Time Machine): its sorts, the search read from
the query string, and the rows.

The rows are rendered in Python: the list is the page people open most, and the template
engine's per-row cost (URL reversing, filters) was half its server time (measured with
bench/webmail_list.py: 50 rows took ~15 ms in a template, under 2 ms here)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
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


# Format characters of django.utils.dateformat that _date_formatter computes itself; any other
# (or a backslash escape) leaves the whole format to Django.
_DATE_PARTS = {
    "d": lambda t: f"{t.day:02d}",
    "j": lambda t: str(t.day),
    "m": lambda t: f"{t.month:02d}",
    "n": lambda t: str(t.month),
    "Y": lambda t: f"{t.year:04d}",
    "y": lambda t: f"{t.year % 100:02d}",
    "H": lambda t: f"{t.hour:02d}",
    "G": lambda t: str(t.hour),
    "h": lambda t: f"{t.hour % 12 or 12:02d}",
    "g": lambda t: str(t.hour % 12 or 12),
    "i": lambda t: f"{t.minute:02d}",
    "s": lambda t: f"{t.second:02d}",
}
_DATE_FORMAT_CHARS = set("aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ")


def _date_formatter(fmt: str) -> Callable[[datetime], str]:
    """dateformat.format(value, fmt) for the rows of one list, as Django writes it: Django
    builds a DateFormat per value (~150 us each, a tenth of the list page's own time for 50
    rows, bench/webmail_list.py); here the format is read once, and the words of "a" and "P"
    (a.m., p.m., noon, midnight, in the active language) are Django's own, asked for once."""
    if "\\" in fmt or any(c in _DATE_FORMAT_CHARS and c not in _DATE_PARTS and c not in "aP" for c in fmt):
        return lambda value: dateformat.format(value, fmt)
    am, pm = (dateformat.format(datetime(2000, 1, 1, h, 30), "a") for h in (1, 13))  # noqa: DTZ001
    noon, midnight = (dateformat.format(datetime(2000, 1, 1, h, 0), "P") for h in (12, 0))  # noqa: DTZ001

    def ampm(t: datetime) -> str:
        return pm if t.hour > 11 else am

    def p(t: datetime) -> str:  # Django's "P": "10 a.m.", "10:05 a.m.", "noon", "midnight"
        if t.minute == 0 and t.hour in (0, 12):
            return midnight if t.hour == 0 else noon
        hour = t.hour % 12 or 12
        return f"{hour}:{t.minute:02d} {ampm(t)}" if t.minute else f"{hour} {ampm(t)}"

    parts: list[str | Callable[[datetime], str]] = []
    for c in fmt:
        if c == "P":
            parts.append(p)
        elif c == "a":
            parts.append(ampm)
        else:
            parts.append(_DATE_PARTS.get(c, c))
    return lambda value: "".join(part if isinstance(part, str) else part(value) for part in parts)


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
    date_format = _date_formatter(formats.get_format("SHORT_DATETIME_FORMAT"))  # once, not per row
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
            when = f'<time class="when" datetime="{local.isoformat()}">{escape(date_format(local))}</time>'
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
