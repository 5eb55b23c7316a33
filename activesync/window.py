"""The FilterType of a Sync (MS-ASCMD 2.2.3.68.1): how far back the device wants its email.

A device sends it in a collection's Options; it holds for the folder's later Syncs until the
device sends Options again (Options without a FilterType: all of the folder, as the spec says of
an omitted FilterType). The window is asked of IMAP as SEARCH SINCE <day>: whole days, so a
device gets a little more than it asked for, never less: the day is that of the window's start
less half a day, so that a server that reads the day in its own time zone (down to UTC-12)
still takes in every message inside the window. A message the device holds that falls out of
the window (it aged, or the device asked for a narrower window) is removed from the device with
a SoftDelete, not a Delete: it is still in the mailbox (activesync.sync)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from activesync.commands import BadRequest
from activesync.numbers import number

A = "{AirSync}"

# FilterType → days. 0 (all) has no window; 6 (three months) and 7 (six months) are the
# calendar's values, taken for email too rather than refused (some clients send them).
FILTER_DAYS = {1: 1, 2: 3, 3: 7, 4: 14, 5: 30, 6: 90, 7: 180}


def filter_type(options) -> int:
    """The FilterType of an Options element (0 when it has none); BadRequest for one that is
    not a time window (8, incomplete tasks, or anything else)."""
    text = (options.findtext(f"{A}FilterType") or "0").strip() if options is not None else "0"
    kind = number(text)
    if kind is None or (kind != 0 and kind not in FILTER_DAYS):
        raise BadRequest(f"FilterType {text[:20]!r} is not a window for email")
    return kind


def now() -> dt.datetime:
    return settings.ACTIVESYNC_FILTER_NOW or timezone.now()


def window_since(kind: int) -> dt.date | None:
    """The day to SEARCH SINCE for FilterType `kind`'s window as of now; None: no window."""
    days = FILTER_DAYS.get(kind)
    if days is None:
        return None
    return (now() - dt.timedelta(days=days, hours=12)).astimezone(dt.UTC).date()
