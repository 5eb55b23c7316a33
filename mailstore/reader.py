"""Reading (and changing) mail in the store: folders with unread counts, sorted and searched
message lists (IMAP SORT/SEARCH on the server), messages, flags, moves, appends, expunges.

    with mail_session(LiveMailbox(address, client_ip=ip), owner=session_key) as mail:
        page = mail.message_page("INBOX", sort="date")

What is opened is a source (mailstore.imap: a live mailbox today, a Time Machine day or an
import source later); `owner` keeps the connection pooled between calls (mailstore.pool).
Every call works on the login of that source, so a UID, a folder or a part of another mailbox
simply does not exist here: it raises mailstore.errors.NotFound, and every other failure is a
mailstore.errors exception too (the portal decides what its user sees). A read-only source
refuses every change with ReadOnly before it reaches the server."""

from __future__ import annotations

import bisect
import email.utils
import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from email.header import decode_header, make_header
from typing import Any

from django.conf import settings
from django.core.cache import cache
from imapclient.datetime_util import parse_to_datetime
from imapclient.imapclient import _literal
from imapclient.response_parser import parse_fetch_response

from mailstore.errors import NotFound, ReadOnly, Refused, Unavailable
from mailstore.folders import Folder, folder_tree
from mailstore.imap import Source, close_client, imap_errors, view_changes
from mailstore.pool import POOL, PooledConnection

# STATUS answered with UIDVALIDITY 0 (a folder being created): asked again up to this many times.
STATUS_ATTEMPTS = 20

SORT_KEYS = {"date": "ARRIVAL", "from": "FROM", "subject": "SUBJECT", "size": "SIZE"}
LIST_ITEMS = [b"UID", b"FLAGS", b"ENVELOPE", b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)]"]
CT_KEY = b"BODY[HEADER.FIELDS (CONTENT-TYPE)]"


# Lists ------------------------------------------------------------------------------------


_OLDEST = date(1900, 1, 1)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class Search:
    text: str = ""  # looked up in the field chosen by `where`
    where: str = "all"  # all (from, to, subject, body), from, to, subject, body
    since: date | None = None
    before: date | None = None  # inclusive: the user means "until this day"
    unseen: bool = False
    flagged: bool = False

    def criteria(self) -> list:
        crit: list[Any] = []
        # imapclient sends a search string as a quoted string (or bare) when it is ASCII: a CR
        # or LF in it would end the command line and start a new IMAP command (a GET link
        # could delete the user's folders). No header or body search needs control characters.
        text = _CONTROL_CHARS.sub(" ", self.text).strip()
        if text:
            # Always a literal or a quoted string, never bare: imapclient quotes a string only when
            # it holds a space, a quote or a backslash, so "(" went bare (a BAD) and "{5}" ended
            # the command line with a literal's announcement (the server then waits for it). Its
            # _literal is sent as a literal, or quoted when quoting is needed anyway.
            value = _literal(text.encode("utf-8"))
            if self.where in ("from", "to", "subject", "body"):
                crit += [self.where.upper(), value]
            else:
                crit += ["OR", "OR", "FROM", value, "TO", value, "OR", "SUBJECT", value, "BODY", value]
        # imapclient writes the year without leading zeros (1-Jan-1) and Dovecot answers BAD: a
        # date before 1900 is no lower bound, or an upper bound nothing is older than.
        if self.since and self.since >= _OLDEST:
            crit += ["SINCE", self.since]
        if self.before and self.before < date.max:  # "until 9999-12-31" is no limit (and would overflow)
            crit += ["BEFORE", max(self.before + timedelta(days=1), _OLDEST)]
        if self.unseen:
            crit.append("UNSEEN")
        if self.flagged:
            crit.append("FLAGGED")
        return crit or ["ALL"]

    @property
    def active(self) -> bool:
        return bool(
            _CONTROL_CHARS.sub(" ", self.text).strip()
            or self.since
            or self.before
            or self.unseen
            or self.flagged
        )


@dataclass
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return email.utils.formataddr((self.name, self.email)) if self.name else self.email

    @property
    def display(self) -> str:
        return self.name or self.email


@dataclass
class ListItem:
    uid: int
    subject: str
    sender: list[Address]
    to: list[Address]
    date: datetime | None
    size: int
    seen: bool
    flagged: bool
    answered: bool
    draft: bool
    has_attachment: bool


@dataclass
class Thread:
    """A conversation (THREAD=REFERENCES) as a row of the list: its newest message, and all of
    its UIDs, oldest first."""

    head: ListItem
    uids: list[int]
    unseen: int = 0

    @property
    def count(self) -> int:
        return len(self.uids)


@dataclass
class Page:
    items: list[ListItem]
    total: int  # messages (threads, in a thread page)
    number: int
    pages: int
    per_page: int
    uids: list[int] = field(default_factory=list)  # a message page: every page's UIDs, in order
    threads: list[Thread] = field(default_factory=list)  # a thread page: one per item, in order
    messages: int = 0  # messages on every page (a thread page's conversations hold several)

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def decode_text(raw: bytes | str | None) -> str:
    """A header value (RFC 2047 encoded words, unknown charsets survive as replacement chars)."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if "=?" not in raw:
        # No encoded word: decode_header would hand it back unchanged, at ~25 µs a value (charset
        # comparisons), which was a fifth of the list page's own time (bench/webmail_list.py).
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, AssertionError):
        return raw


def _addresses(items) -> list[Address]:
    out = []
    for a in items or ():
        if a.mailbox is None or a.host is None:
            continue  # group syntax markers
        mailbox = a.mailbox.decode("utf-8", "replace")
        host = a.host.decode("utf-8", "replace")
        out.append(Address(name=decode_text(a.name), email=f"{mailbox}@{host}"))
    return out


def _list_item(uid: int, data: dict) -> ListItem:
    env = data.get(b"ENVELOPE")
    flags = set(data.get(b"FLAGS", ()))
    ctype = (data.get(CT_KEY) or b"").lower()
    return ListItem(
        uid=uid,
        subject=decode_text(env.subject) if env else "",
        sender=_addresses(env.from_) if env else [],
        to=_addresses(env.to) if env else [],
        date=env.date if env else None,
        size=data.get(b"RFC822.SIZE", 0),
        seen=b"\\Seen" in flags,
        flagged=b"\\Flagged" in flags,
        answered=b"\\Answered" in flags,
        draft=b"\\Draft" in flags,
        has_attachment=b"multipart/mixed" in ctype,
    )


_RAW_UID = re.compile(rb"\bUID (\d+)")
_RAW_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_RAW_DATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_RAW_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def uid_set(uids: list[int]) -> str:
    """An IMAP sequence set of `uids`, runs of consecutive UIDs as ranges ("3:7,9,12:13")."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _immutable(criteria: list) -> bool:
    """True when what matches `criteria` cannot change while the messages stay the same (no flag
    in them: text and dates are part of a message for ever)."""
    return not any(c in ("UNSEEN", "FLAGGED") for c in criteria if isinstance(c, str))


def _flatten(node) -> list[int]:
    """The UIDs of one THREAD response node (nested tuples: replies and sub-threads)."""
    out: list[int] = []
    for item in node if isinstance(node, (tuple, list)) else (node,):
        if isinstance(item, (tuple, list)):
            out += _flatten(item)
        else:
            out.append(int(item))
    return out


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_INTERNALDATE = re.compile(rb"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def internal_date(text: bytes, *, normalise: bool = True) -> datetime:
    """An INTERNALDATE ("01-Feb-2026 10:00:00 +0100"): with `normalise`, the local time of that
    instant without a zone, as imapclient gives it, but with the offset local time had on that
    day (imapclient applies today's, an hour off for the other half of the year); else aware,
    in the zone written. Read by hand: imapclient's parser was a quarter of a Sync page's fetch.
    ValueError when it is not a date."""
    found = _INTERNALDATE.match(text)
    month = _MONTHS.get(found.group(2).decode().title()) if found else None
    if found is None or month is None:
        aware = parse_to_datetime(text, normalise=False)
    else:
        day, _name, year, hour, minute, second, sign, zone_hours, zone_minutes = found.groups()
        offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        aware = datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=dt_timezone(-offset if sign == b"-" else offset),
        )
    return local_time(aware) if normalise else aware


def local_time(when: datetime) -> datetime:
    """An aware time as local wall-clock time without a zone, with the offset local time had at
    that instant (what imapclient's normalise_times means, less its use of today's offset)."""
    return when.astimezone().replace(tzinfo=None) if when.tzinfo is not None else when


# Messages -----------------------------------------------------------------------------------


@dataclass
class RawMessage:
    uid: int
    raw: bytes
    flags: set
    internal_date: datetime | None


# A folder export reads this much at a time (mailstore.reader.MailSession.messages_stream).
STREAM_BATCH_BYTES = 4 * 1024 * 1024
STREAM_BATCH_MAX = 200

UID_MAX = 2**32 - 1  # RFC 3501: a UID is a 32-bit number; Dovecot answers BAD to a larger one

FLAG_ACTIONS = {
    "read": ("add", b"\\Seen"),
    "unread": ("remove", b"\\Seen"),
    "flag": ("add", b"\\Flagged"),
    "unflag": ("remove", b"\\Flagged"),
}

_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_COPYUID = re.compile(rb"COPYUID \d+ ([\d:,]+) ([\d:,]+)")


def _uid_set(text: bytes) -> list[int]:
    """ "3:5,9" → [3, 4, 5, 9], in the order written (COPYUID pairs the two sets by position)."""
    out: list[int] = []
    for part in text.split(b","):
        low, _, high = part.partition(b":")
        first, last = int(low), int(high or low)
        step = 1 if last >= first else -1
        out.extend(range(first, last + step, step))
    return out


@dataclass
class FolderStatus:
    """STATUS of a folder: what a phone compares to tell whether it changed."""

    uidvalidity: int
    uidnext: int
    messages: int
    highestmodseq: int


@dataclass
class FolderFlags:
    """Every message of a folder (UID → flags) under one UIDVALIDITY."""

    uidvalidity: int
    highestmodseq: int
    flags: dict[int, set] = field(default_factory=dict)
    uidnext: int = 0
    messages: int = 0


@dataclass
class FolderChanges:
    """What changed in a folder since a HIGHESTMODSEQ (CONDSTORE/QRESYNC, RFC 7162): the flags of
    every message added or re-flagged since, and the UIDs expunged since, with the folder's
    STATUS as of the same view. `vanished` is a list of UID ranges (first, last): a server may
    name UIDs that were never there (a whole range once it forgot the details), so it is
    asked about UIDs (`vanished_among`), never expanded."""

    status: FolderStatus
    flags: dict[int, set] = field(default_factory=dict)
    vanished: list[tuple[int, int]] = field(default_factory=list)

    def vanished_among(self, uids) -> set[int]:
        merged: list[list[int]] = []
        for first, last in sorted(self.vanished):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        firsts = [first for first, _last in merged]
        out = set()
        for uid in uids if merged else ():
            i = bisect.bisect_right(firsts, uid) - 1
            if i >= 0 and uid <= merged[i][1]:
                out.add(uid)
        return out


def _flags_lines(data: list) -> dict[int, set] | None:
    """UID → flags of FETCH answers of the shape `3 (UID 7 FLAGS (\\Seen) MODSEQ (12))`, read
    with two regular expressions (imapclient's parser took 50 ms for a 10,000-message folder's
    first listing); None when an answer is of another shape (a literal)."""
    out: dict[int, set] = {}
    for line in data:
        if line is None:
            continue
        if not isinstance(line, bytes):
            return None
        uid, flags = _RAW_UID.search(line), _RAW_FLAGS.search(line)
        if uid is None:
            return None
        if flags is not None:
            out[int(uid.group(1))] = set(flags.group(1).split())
    return out


def _vanished_ranges(responses: list) -> list[tuple[int, int]]:
    """The UID ranges of untagged VANISHED responses ("(EARLIER) 3:5,9" or "12")."""
    out: list[tuple[int, int]] = []
    for response in responses:
        if not isinstance(response, bytes):
            continue
        for part in response.replace(b"(EARLIER)", b"").strip().split(b","):
            low, _, high = part.strip().partition(b":")
            if low.isdigit() and (not high or high.isdigit()):
                first, last = int(low), int(high or low)
                out.append((min(first, last), max(first, last)))
    return out


# The session --------------------------------------------------------------------------------


@contextmanager
def mail_session(source: Source, *, owner: str | None = None, timeout: float = 30) -> Iterator[MailSession]:
    """A session on `source`. With an `owner` (the web session key) the connection comes from
    and goes back to the pool (mailstore.pool; `POOL.close_session(owner)` at logout); without
    one it is opened for this block and logged out at its end (tasks, commands)."""
    if owner is None:
        with imap_errors("IMAP session"):
            conn = PooledConnection(client=source.open(timeout=timeout), key=())
        try:
            yield MailSession(conn, source)
        finally:
            close_client(conn.client)
        return
    key = (owner, *source.pool_key())
    with POOL.connection(key, lambda: source.open(timeout=timeout)) as conn:
        session = MailSession(conn, source, memo_key=_memo_key(key) if owner else None)
        try:
            yield session
        finally:
            if session.changed:
                session._changed()  # again at the end: a request running meanwhile may have cached it


def folder_tree_cached(source: Source, *, owner: str) -> list[Folder]:
    """The folder tree with counts of `source` as MailSession.folder_tree(cached=True) gives it,
    without checking out a connection when the cache has it (a settings page needs no other
    IMAP command)."""
    if owner:
        tree = cache.get(_memo_key((owner, *source.pool_key())))
        if tree is not None:
            return tree
    with mail_session(source, owner=owner or None) as mail:
        return mail.folder_tree()


def _memo_key(key: tuple) -> str:
    return "mailstore:tree:" + hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def folder_cache_seconds() -> int:
    return int(getattr(settings, "MAILSTORE_FOLDER_CACHE_SECONDS", 30))


@contextmanager
def _folder_change(doing: str) -> Iterator[None]:
    """A folder change the server says no to is Refused, whatever the reason: even a
    [NONEXISTENT] for a parent that exists only as the path of its subfolders."""
    try:
        with imap_errors(doing):
            yield
    except NotFound as exc:
        raise Refused(str(exc)) from exc


class MailSession:
    """The operations of the reader on one open connection (see mail_session)."""

    def __init__(self, conn: PooledConnection, source: Source, *, memo_key: str | None = None) -> None:
        self._conn = conn
        self._client = conn.client
        self.read_only = source.read_only
        self._memo_key = memo_key  # the owner's cached folder tree (see folder_tree)
        self.changed = False
        # The folder changes_since has just selected afresh: selecting it again in this session
        # needs no NOOP (a Sync page lists the changes, then fetches what they name; the
        # session's own commands bring their own updates).
        self._just_selected: str | None = None

    def _changed(self) -> None:
        """Something this session did changed counts or folders: the cached tree is stale (and
        so are the selected folder's remembered SORT and THREAD results)."""
        self.changed = True
        self._conn.view_memo.clear()
        if self._memo_key:
            cache.delete(self._memo_key)

    def _writable(self, doing: str) -> None:
        if self.read_only:
            raise ReadOnly(f"{doing}: the source is read-only")
        self._changed()

    def select(self, folder: str, *, readonly: bool = False) -> None:
        """Select `folder` (NotFound when the mailbox has no such folder).

        When the pooled connection has it selected already (read-write, or read-only and only
        reading is wanted), a NOOP brings the view up to date instead: Dovecot syncs the
        mailbox on NOOP as on SELECT (new, expunged and re-flagged messages), without closing
        and re-opening its indexes (bench/webmail_list.py)."""
        readonly = readonly or self.read_only
        conn = self._conn
        if conn.selected == folder and (readonly or not conn.selected_readonly):
            if self._just_selected == folder:
                return
            changed = view_changes(self._client)
            if changed is not None:
                if changed:
                    # New or expunged messages (EXISTS, EXPUNGE), changed flags (FETCH): what
                    # was remembered of this view may be stale. Nothing reported: nothing changed.
                    conn.view_memo.clear()
                return
            # NOOP failed: SELECT says what is wrong below
        self._just_selected = None
        try:
            with imap_errors(f"SELECT {folder!r}"):
                self._client.select_folder(folder, readonly=readonly)
        except Refused as exc:
            conn.selected = None
            conn.view_memo.clear()
            raise NotFound(str(exc)) from exc
        except NotFound:
            conn.selected = None
            conn.view_memo.clear()
            raise
        conn.selected, conn.selected_readonly = folder, readonly
        conn.view_memo.clear()

    # Folders

    def folder_tree(self, *, counts: bool = True, cached: bool = False) -> list[Folder]:
        """Every folder, special ones first in a fixed order, the others sorted by path.

        `cached`: the tree with counts may come from the cache (shared by the web processes)
        for MAILSTORE_FOLDER_CACHE_SECONDS: every page of the webmail shows it, and asking the
        server for every folder's counts on every request was most of what the list page
        did besides the list itself. Every change made through a session of the same owner
        forgets it (mark read, move, delete, append, folder changes); a change made elsewhere
        (new mail, another client) shows within that time, or at once in the folder being
        listed when the caller sees its message count differ (webmail.views.mail)."""
        if cached and counts and self._memo_key:
            tree = cache.get(self._memo_key)
            if tree is not None:
                return tree
        with imap_errors("LIST"):
            tree = folder_tree(self._client, counts=counts)
        if counts and self._memo_key:
            cache.set(self._memo_key, tree, folder_cache_seconds())
        return tree

    def folder_names(self) -> set[str]:
        with imap_errors("LIST"):
            return {name for _flags, _sep, name in self._client.list_folders()}

    def folder_create(self, name: str) -> None:
        self._writable("CREATE")
        with _folder_change(f"CREATE {name!r}"):
            self._client.create_folder(name)
            self._client.subscribe_folder(name)

    def folder_rename(self, old: str, new: str) -> None:
        self._writable("RENAME")
        self._conn.selected = None
        with _folder_change(f"RENAME {old!r}"):
            self._client.rename_folder(old, new)
            self._client.subscribe_folder(new)

    def folder_delete(self, name: str) -> None:
        self._writable("DELETE")
        self._conn.selected = None
        with _folder_change(f"DELETE {name!r}"):
            self._client.select_folder("INBOX", readonly=True)  # never delete the selected folder
            self._client.delete_folder(name)

    def folder_empty(self, folder: str) -> int:
        if folder not in ("Trash", "Junk"):
            raise Refused("only Trash and Junk can be emptied")
        self._writable("EXPUNGE")
        self.select(folder)
        with imap_errors(f"EXPUNGE {folder!r}"):
            uids = self._client.search(["ALL"])
            if uids:
                self._client.delete_messages(uids, silent=True)
                self._client.expunge()
        return len(uids)

    # Lists

    def message_page(
        self,
        folder: str,
        *,
        sort: str = "date",
        reverse: bool = True,
        search: Search | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page:
        """One page of the folder, sorted (and filtered) by the server: SORT returns the ordered
        UIDs, only the page's UIDs are fetched."""
        self.select(folder, readonly=True)
        client = self._client
        with imap_errors(f"SORT {folder!r}"):
            uids = self._sorted(SORT_KEYS.get(sort, "ARRIVAL"), reverse, (search or Search()).criteria())
            total = len(uids)
            pages = max(1, -(-total // per_page))
            number = min(max(1, page), pages)
            wanted = uids[(number - 1) * per_page : number * per_page]
            fetched = client.fetch(wanted, LIST_ITEMS) if wanted else {}
        items = [_list_item(uid, fetched[uid]) for uid in wanted if uid in fetched]
        return Page(
            items=items, total=total, number=number, pages=pages, per_page=per_page, uids=uids, messages=total
        )

    def search_uids(self, folder: str, search: Search) -> list[int]:
        """The UIDs of the folder's messages that match `search`, newest arrival first (the
        server searches and sorts; a caller fetches only the range it shows)."""
        self.select(folder, readonly=True)
        with imap_errors(f"SORT {folder!r}"):
            return self._sorted("ARRIVAL", True, search.criteria())

    def _threads(self, folder: str, search: Search | None) -> list[list[int]]:
        """The folder's conversations (THREAD=REFERENCES, on the server: Dovecot threads by
        References and In-Reply-To, and by subject), each its UIDs oldest first, the conversation
        with the newest message first (UIDs grow with arrival)."""
        self.select(folder, readonly=True)
        criteria = (search or Search()).criteria()
        memo_key = ("THREAD", repr(criteria)) if _immutable(criteria) else None
        if memo_key in self._conn.view_memo:
            return self._conn.view_memo[memo_key]
        with imap_errors(f"THREAD {folder!r}"):
            tree = self._client.thread("REFERENCES", criteria, charset="UTF-8")
        threads = [sorted(_flatten(node)) for node in tree]
        threads.sort(key=lambda uids: uids[-1], reverse=True)
        if memo_key:
            self._conn.view_memo[memo_key] = threads
        return threads

    def _sorted(self, key: str, reverse: bool, criteria: list) -> list[int]:
        """SORT in the selected folder by `key`, messages that compare equal (the same arrival
        second, the same subject) in UID order: RFC 5256 leaves them in sequence order, which is
        UID order, so the ascending answer is already tie-broken by UID; the descending order is
        that list reversed (the server's REVERSE would keep the ties ascending, so a list "newest
        first" would show a second's messages oldest first, and prev / next would disagree with
        the list).

        Remembered for the connection while the server reports no change (select) when the
        criteria do not depend on flags: the order of 10,000 UIDs costs the server little, but
        parsing them cost the web process ~10 ms a page."""
        memo_key = ("SORT", key, repr(criteria)) if _immutable(criteria) else None
        if memo_key in self._conn.view_memo:
            uids = self._conn.view_memo[memo_key]
        else:
            uids = self._client.sort([key], criteria, charset="UTF-8")
            if memo_key:
                self._conn.view_memo[memo_key] = uids
        return uids[::-1] if reverse else uids

    def thread_page(
        self, folder: str, *, search: Search | None = None, page: int = 1, per_page: int = 50
    ) -> Page:
        """One page of the folder's conversations, newest first: one row per conversation (its
        newest message), with its size and unread count. Two commands whatever the threads'
        lengths: a FETCH of the heads' list items, and a SEARCH for the unread ones among the
        other messages (a FETCH of their flags answered one line per message: parsing those
        was a third of the page's IMAP time, bench/webmail_list.py)."""
        threads = self._threads(folder, search)
        total = len(threads)
        pages = max(1, -(-total // per_page))
        number = min(max(1, page), pages)
        wanted = threads[(number - 1) * per_page : number * per_page]
        heads = [uids[-1] for uids in wanted]
        rest = [uid for uids in wanted for uid in uids[:-1]]
        with imap_errors(f"FETCH {folder!r}"):
            fetched = self._client.fetch(heads, LIST_ITEMS) if heads else {}
            unread = set(self._client.search(["UID", uid_set(rest), "UNSEEN"])) if rest else set()
        out = []
        for uids in wanted:
            if uids[-1] not in fetched:
                continue  # expunged meanwhile
            head = _list_item(uids[-1], fetched[uids[-1]])
            unseen = (not head.seen) + sum(1 for u in uids[:-1] if u in unread)
            out.append(Thread(head=head, uids=uids, unseen=unseen))
        return Page(
            items=[t.head for t in out],
            total=total,
            number=number,
            pages=pages,
            per_page=per_page,
            threads=out,
            # Counted, not listed: a list of the folder's 10,000 UIDs built on every page only
            # to be counted (bench/webmail_list.py).
            messages=sum(map(len, threads)),
        )

    def thread_of(self, folder: str, uid: int) -> list[int]:
        """The UIDs of the conversation `uid` belongs to, oldest first (NotFound without it)."""
        for uids in self._threads(folder, None):
            if uid in uids:
                return uids
        raise NotFound(f"no message {uid} in {folder!r}")

    def messages_raw(self, folder: str, uids: list[int], *, mark_seen: bool = False) -> list[RawMessage]:
        """Whole messages, in the order of `uids` (those that exist), with their flags as they
        were before; `mark_seen` sets \\Seen on the unread ones unless the source is read-only."""
        uids = [u for u in uids if 0 < u <= UID_MAX]
        if not uids:
            return []
        self.select(folder)
        with imap_errors(f"FETCH in {folder!r}"):
            data = self._fetch_whole(uids)
            unseen = [u for u in uids if u in data and b"\\Seen" not in data[u].get(b"FLAGS", ())]
            if mark_seen and unseen and not self.read_only:
                self._changed()
                self._client.add_flags(unseen, [b"\\Seen"], silent=True)
        out = []
        for uid in uids:
            item = data.get(uid)
            if not item or b"BODY[]" not in item:
                continue
            flags = set(item.get(b"FLAGS", ()))  # as they were: the caller can tell what was unread
            out.append(
                RawMessage(uid=uid, raw=item[b"BODY[]"], flags=flags, internal_date=item.get(b"INTERNALDATE"))
            )
        return out

    def _fetch_whole(self, uids: list[int]) -> dict[int, dict]:
        """UID FETCH (UID FLAGS INTERNALDATE BODY.PEEK[]) of `uids`, as imapclient's fetch
        gives it, read straight from imaplib: imapclient's lexer looks at every byte of every
        message, which was a fifth of an ActiveSync Sync's time (bench/activesync.py
        --sync-only). A message whose answer is not in the usual shape (no literal, no UID: a
        server of another kind) is fetched again through imapclient."""
        client = self._client
        imap = client._imap
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.uid("FETCH", uid_set(uids), "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        client._checkok("fetch", typ, data)
        out: dict[int, dict] = {}
        for i, item in enumerate(data):
            if not isinstance(item, tuple) or len(item) != 2:
                continue  # the ")" closing a literal, or an unsolicited FETCH of flags
            head, raw = item
            tail = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
            text = head + b" " + tail
            uid, flags, when = _RAW_UID.search(text), _RAW_FLAGS.search(text), _RAW_DATE.search(text)
            if uid is None or flags is None or not head.rstrip().endswith(b"}") or b"BODY[]" not in head:
                continue
            out[int(uid.group(1))] = {
                b"BODY[]": raw,
                b"FLAGS": tuple(flags.group(1).split()),
                b"INTERNALDATE": internal_date(when.group(1), normalise=client.normalise_times)
                if when
                else None,
            }
        missing = [u for u in uids if u not in out]
        if missing:  # expunged (and missing again), or in another shape: read the careful way
            out.update(self._fetch_dated(missing, [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"]))
        return out

    def message_sizes(self, folder: str, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE of each of `uids` that exists (one FETCH, read straight from imaplib)."""
        uids = [u for u in uids if 0 < u <= UID_MAX]
        if not uids:
            return {}
        self.select(folder)
        client = self._client
        imap = client._imap
        with imap_errors(f"FETCH RFC822.SIZE in {folder!r}"):
            imap.untagged_responses.pop("FETCH", None)
            typ, data = imap.uid("FETCH", uid_set(uids), "(UID RFC822.SIZE)")
            client._checkok("fetch", typ, data)
        sizes: dict[int, int] = {}
        for line in data:
            if isinstance(line, bytes):
                uid, size = _RAW_UID.search(line), _RAW_SIZE.search(line)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _fetch_dated(self, uids: list[int], items: list[bytes]) -> dict[int, dict]:
        """imapclient's fetch, with INTERNALDATE as `internal_date` gives it: the local time of
        the message's own day, not with today's offset."""
        client = self._client
        normalise, client.normalise_times = client.normalise_times, False
        try:
            data = client.fetch(uids, items)
        finally:
            client.normalise_times = normalise
        if normalise:
            for item in data.values():
                when = item.get(b"INTERNALDATE")
                if isinstance(when, datetime):
                    item[b"INTERNALDATE"] = local_time(when)
        return data

    def neighbours(
        self, folder: str, uid: int, *, sort: str = "date", reverse: bool = True
    ) -> tuple[int | None, int | None]:
        """The previous and next UIDs in the list order (for j/k and the arrows on the message
        page) of the selected `folder`."""
        with imap_errors(f"SORT {folder!r}"):
            uids = self._sorted(SORT_KEYS.get(sort, "ARRIVAL"), reverse, ["ALL"])
        try:
            i = uids.index(uid)
        except ValueError:
            return None, None
        return (uids[i - 1] if i > 0 else None), (uids[i + 1] if i + 1 < len(uids) else None)

    # Messages

    def message_raw(self, folder: str, uid: int, *, mark_seen: bool = False) -> RawMessage:
        """The whole message (NotFound when there is none); `mark_seen` sets \\Seen unless the
        source is read-only (a look at a snapshot changes nothing)."""
        if not 0 < uid <= UID_MAX:
            raise NotFound(f"UID {uid} out of range")
        self.select(folder)
        with imap_errors(f"FETCH {uid} in {folder!r}"):
            data = self._fetch_dated([uid], [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"]).get(uid)
            if not data or b"BODY[]" not in data:
                raise NotFound(f"no message {uid} in {folder!r}")
            flags = set(data.get(b"FLAGS", ()))
            if mark_seen and not self.read_only and b"\\Seen" not in flags:
                self._changed()
                self._client.add_flags([uid], [b"\\Seen"], silent=True)
                flags.add(b"\\Seen")
        return RawMessage(uid=uid, raw=data[b"BODY[]"], flags=flags, internal_date=data.get(b"INTERNALDATE"))

    def has_message(self, folder: str, *, message_id: str, size: int | None) -> bool:
        """True when `folder` holds a message with this Message-ID header and exactly `size`
        bytes, or any size with None (what makes putting an archived message back, or sending a
        draft, idempotent). A message without a Message-ID is never found: it is appended each
        time."""
        message_id = _CONTROL_CHARS.sub(" ", message_id).strip()
        if not message_id:
            return False
        criteria = ["HEADER", "Message-ID", message_id]
        if size is not None:
            criteria += ["LARGER", str(size - 1), "SMALLER", str(size + 1)]
        self.select(folder, readonly=True)
        with imap_errors(f"SEARCH in {folder!r}"):
            return bool(self._client.search(criteria))

    def messages_stream(
        self, folder: str, *, batch_bytes: int = STREAM_BATCH_BYTES, batch_max: int = STREAM_BATCH_MAX
    ) -> Iterator[RawMessage]:
        """Every message of `folder` in UID order, fetched in batches of at most `batch_bytes`
        (a larger message alone) and `batch_max` messages: whoever writes them out (a folder
        export) holds one batch in memory, never the folder. BODY.PEEK: nothing is marked read.
        The connection is busy until the iterator is exhausted or closed."""
        self.select(folder, readonly=True)
        with imap_errors(f"FETCH sizes in {folder!r}"):
            uids = sorted(self._client.search(["ALL"]))
            sizes: dict[int, int] = {}
            for start in range(0, len(uids), 5000):
                part = uids[start : start + 5000]
                sizes.update(
                    {
                        uid: data.get(b"RFC822.SIZE", 0)
                        for uid, data in self._client.fetch(part, [b"RFC822.SIZE"]).items()
                    }
                )
        batch: list[int] = []
        weight = 0
        for uid in [*uids, None]:
            size = sizes.get(uid, 0) if uid is not None else 0
            if batch and (uid is None or weight + size > batch_bytes or len(batch) >= batch_max):
                with imap_errors(f"FETCH in {folder!r}"):
                    fetched = self._fetch_dated(batch, [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"])
                for one in batch:
                    data = fetched.pop(one, None)
                    if data and b"BODY[]" in data:  # expunged meanwhile: skipped
                        yield RawMessage(
                            uid=one,
                            raw=data[b"BODY[]"],
                            flags=set(data.get(b"FLAGS", ())),
                            internal_date=data.get(b"INTERNALDATE"),
                        )
                # Not `del`: `data` (the last message's dict) would otherwise stay alive through
                # the next batch's FETCH, two batches in memory instead of one.
                fetched = data = None
                batch, weight = [], 0
            if uid is not None and uid in sizes:
                batch.append(uid)
                weight += size

    def folder_status(self, folder: str) -> FolderStatus:
        """STATUS without selecting (NotFound when there is no such folder). Dovecot answers
        STATUS of the folder this connection has selected from the connection's own view (stale:
        new mail delivered meanwhile, or the folder deleted and made again with a new
        UIDVALIDITY), so that folder is unselected first.

        A folder whose indexes another session is creating at that moment (a new mailbox's
        INBOX, read by several of its phones at once) is answered with UIDVALIDITY 0, which
        RFC 3501 does not allow and the same STATUS a moment later corrects: it is asked
        again (Unavailable if it never is). Kept, that 0 made a phone's sync state differ from
        the folder forever: every Ping answered "changed" at once (bench/activesync.py)."""
        if self._conn.selected == folder:
            self._conn.selected = None
            self._conn.view_memo.clear()
            with imap_errors(f"UNSELECT {folder!r}"):
                self._client.unselect_folder()
        for attempt in range(STATUS_ATTEMPTS):
            if attempt:
                time.sleep(0.01 * attempt)
            try:
                with imap_errors(f"STATUS {folder!r}"):
                    data = self._client.folder_status(
                        folder, [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES", b"HIGHESTMODSEQ"]
                    )
            except Refused as exc:
                # Dovecot 2.3 answers STATUS of a missing folder without [NONEXISTENT].
                if "doesn't exist" in str(exc):
                    raise NotFound(str(exc)) from exc
                raise
            if int(data.get(b"UIDVALIDITY", 0)):
                break
        else:
            raise Unavailable(f"STATUS {folder!r}: UIDVALIDITY 0 after {STATUS_ATTEMPTS} attempts")
        return FolderStatus(
            uidvalidity=int(data.get(b"UIDVALIDITY", 0)),
            uidnext=int(data.get(b"UIDNEXT", 0)),
            messages=int(data.get(b"MESSAGES", 0)),
            highestmodseq=int(data.get(b"HIGHESTMODSEQ", 0)),
        )

    def folder_flags(self, folder: str) -> FolderFlags:
        """The UID and flags of every message in `folder` (one SEARCH and one FETCH FLAGS),
        with the UIDVALIDITY they belong to."""
        self.select(folder, readonly=True)
        with imap_errors(f"FETCH FLAGS in {folder!r}"):
            info = self._client.folder_status(
                folder, [b"UIDVALIDITY", b"HIGHESTMODSEQ", b"UIDNEXT", b"MESSAGES"]
            )
            uids = self._client.search(["ALL"])
            flags: dict[int, set] = {}
            for start in range(0, len(uids), 5000):
                part = uids[start : start + 5000]
                for uid, data in self._client.fetch(part, [b"FLAGS"]).items():
                    flags[uid] = set(data.get(b"FLAGS", ()))
        return FolderFlags(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            highestmodseq=int(info.get(b"HIGHESTMODSEQ", 0)),
            flags=flags,
            uidnext=int(info.get(b"UIDNEXT", 0)),
            messages=int(info.get(b"MESSAGES", 0)),
        )

    def changes_since(self, folder: str, *, uidvalidity: int, modseq: int) -> FolderChanges | None:
        """What changed in `folder` since HIGHESTMODSEQ `modseq` under `uidvalidity`: one SELECT
        and one `UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq VANISHED)`, so the cost is what
        changed, not the folder's size. `modseq` 0: every message (a full listing, the start).
        None when the server cannot say (no QRESYNC); when the folder's UIDVALIDITY is not
        `uidvalidity` the answer has its status and no changes (the caller starts over).
        NotFound without the folder.

        The SELECT is always a fresh one (not the NOOP of `select`): its HIGHESTMODSEQ is the
        point the answer is complete up to, the `modseq` of the next call. Dovecot keeps a
        modseq per message only once a client enabled CONDSTORE on the folder (until then every
        message gets the current one when it is enabled): so start with modseq 0, here, and
        take the later `modseq` from answers of this method, never from a STATUS before it."""
        client, conn = self._client, self._conn
        if not conn.qresync:
            if not client.has_capability("QRESYNC"):
                return None
            with imap_errors("ENABLE QRESYNC"):
                if self._client._imap.state == "SELECTED":  # ENABLE is valid before SELECT only
                    client.unselect_folder()
                conn.selected = None
                conn.view_memo.clear()
                client.enable("QRESYNC")
            conn.qresync = True
        readonly = self.read_only
        conn.selected = None
        conn.view_memo.clear()
        try:
            with imap_errors(f"SELECT {folder!r}"):
                info = client.select_folder(folder, readonly=readonly)
        except Refused as exc:
            raise NotFound(str(exc)) from exc
        conn.selected, conn.selected_readonly = folder, readonly
        status = FolderStatus(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            messages=int(info.get(b"EXISTS", 0)),
            highestmodseq=int(info.get(b"HIGHESTMODSEQ", 0)),
        )
        if status.uidvalidity != uidvalidity:
            return FolderChanges(status=status)
        imap = client._imap
        for leftover in ("VANISHED", "FETCH"):  # of earlier commands: this answer says it all
            imap.untagged_responses.pop(leftover, None)
        with imap_errors(f"FETCH CHANGEDSINCE in {folder!r}"):
            # imapclient's fetch() wants a list of UIDs: "1:*" goes through imaplib directly.
            since = (f"(CHANGEDSINCE {int(modseq)} VANISHED)",) if modseq > 0 else ()
            tag = imap._command("UID", "FETCH", "1:*", "(FLAGS)", *since)
            typ, data = imap._command_complete("FETCH", tag)
            client._checkok("fetch", typ, data)
            typ, data = imap._untagged_response(typ, data, "FETCH")
            flags = _flags_lines(data)
            if flags is None:  # not the one-line shape Dovecot answers in: the careful parser
                parsed = parse_fetch_response(data, client.normalise_times, True)
                flags = {uid: set(item[b"FLAGS"]) for uid, item in parsed.items() if b"FLAGS" in item}
        vanished = _vanished_ranges(imap.untagged_responses.pop("VANISHED", []))
        self._just_selected = folder
        return FolderChanges(status=status, flags=flags, vanished=vanished)

    def uids_since(self, folder: str, day: date) -> set[int]:
        """The UIDs of `folder`'s messages that arrived on `day` or later (SEARCH SINCE: by
        INTERNALDATE, a whole day at a time). NotFound without the folder."""
        self.select(folder, readonly=True)
        with imap_errors(f"SEARCH SINCE in {folder!r}"):
            return set(self._client.search(["SINCE", day]))

    def uids_after(self, folder: str, last_uid: int = 0) -> list[int]:
        """The UIDs of `folder` above `last_uid`, ascending (an import resumes from the last
        UID it committed)."""
        self.select(folder, readonly=True)
        start = max(0, min(int(last_uid), UID_MAX - 1)) + 1
        with imap_errors(f"SEARCH UID in {folder!r}"):
            found = self._client.search(["UID", f"{start}:*"])
        return sorted(u for u in found if u > last_uid)  # "n:*" also matches the last UID below n

    def _existing_uids(self, uids: list[int]) -> list[int]:
        uids = [u for u in uids if 0 < u <= UID_MAX]
        if not uids:
            return []
        with imap_errors("SEARCH UID"):
            return sorted(self._client.search(["UID", ",".join(str(u) for u in uids)]))

    def flags_change(self, folder: str, uids: list[int], action: str) -> int:
        how, flag = FLAG_ACTIONS[action]
        self._writable("STORE")
        self.select(folder)
        uids = self._existing_uids(uids)
        if uids:
            with imap_errors(f"STORE in {folder!r}"):
                (self._client.add_flags if how == "add" else self._client.remove_flags)(
                    uids, [flag], silent=True
                )
        return len(uids)

    def flag_add(self, folder: str, uid: int, flag: bytes) -> None:
        """Set one flag (\\Answered, $Forwarded) on one message; NotFound without the folder."""
        self._writable("STORE")
        self.select(folder)
        with imap_errors(f"STORE in {folder!r}"):
            self._client.add_flags([uid], [flag], silent=True)

    def messages_move(self, folder: str, uids: list[int], target: str) -> int:
        self._writable("MOVE")
        if target not in self.folder_names():
            raise NotFound(f"no folder {target!r}")
        self.select(folder)
        uids = self._existing_uids(uids)
        if uids and target != folder:
            with imap_errors(f"MOVE to {target!r}"):
                self._client.move(uids, target)
        return len(uids)

    def messages_move_mapped(self, folder: str, uids: list[int], target: str) -> dict[int, int]:
        """MOVE, returning each moved message's UID in `target` (COPYUID, RFC 4315: Dovecot sends
        it in an untagged OK before the expunges). A UID that is not in `folder` is left out."""
        self._writable("MOVE")
        if target not in self.folder_names():
            raise NotFound(f"no folder {target!r}")
        self.select(folder)
        uids = self._existing_uids(uids)
        if not uids or target == folder:
            return {}
        imap = self._client._imap
        imap.untagged_responses.pop("OK", None)
        with imap_errors(f"MOVE to {target!r}"):
            self._client.move(uids, target)
        said = b" ".join(r for r in imap.untagged_responses.pop("OK", []) if isinstance(r, bytes))
        match = _COPYUID.search(said)
        if not match:
            return {}
        return dict(zip(_uid_set(match.group(1)), _uid_set(match.group(2)), strict=False))

    def messages_delete(self, folder: str, uids: list[int]) -> int:
        """To Trash; from Trash (or Junk) for good."""
        self._writable("EXPUNGE")
        if folder in ("Trash", "Junk"):
            self.select(folder)
            uids = self._existing_uids(uids)
            if uids:
                with imap_errors(f"EXPUNGE in {folder!r}"):
                    self._client.delete_messages(uids, silent=True)
                    self._client.uid_expunge(uids)
            return len(uids)
        return self.messages_move(folder, uids, "Trash")

    def message_delete_now(self, folder: str, uid: int) -> None:
        """Remove one message for good (the previous version of a draft)."""
        self._writable("EXPUNGE")
        self.select(folder)
        if self._existing_uids([uid]):
            with imap_errors(f"EXPUNGE in {folder!r}"):
                self._client.delete_messages([uid], silent=True)
                self._client.uid_expunge([uid])

    def message_replace(self, folder: str, uid: int, raw: bytes, *, flags: tuple = ()) -> int | None:
        """A new version of message `uid` (a draft edited on a phone): `raw` appended with
        `flags`, then the old one removed for good. Returns the new UID (IMAP cannot change a
        message in place, so the version has one of its own). NotFound, with nothing appended,
        when there is no message `uid`; OverQuota, with the old version kept, when it does not fit."""
        self._writable("APPEND")
        self.select(folder)
        if not self._existing_uids([uid]):
            raise NotFound(f"no message {uid} in {folder!r}")
        new_uid = self.append(folder, raw, flags=flags)
        self.message_delete_now(folder, uid)
        return new_uid

    def append(
        self, folder: str, raw: bytes, *, flags: tuple = (), when: datetime | None = None
    ) -> int | None:
        """APPEND a message; returns its UID (UIDPLUS). OverQuota when the mailbox is full."""
        self._writable("APPEND")
        self._conn.selected = None
        with imap_errors(f"APPEND to {folder!r}"):
            response = self._client.append(folder, raw, flags=flags, msg_time=when)
        match = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
        return int(match.group(1)) if match else None
