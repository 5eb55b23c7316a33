"""IMAP connections kept open between requests, one set per owner (a web session), in this process.

A webmail page costs a SORT and a FETCH (a few ms); opening an IMAP session costs a TCP
connect, ID and a master-user LOGIN in Dovecot (a userdb lookup) on every request. So each
web process keeps the logged-in connections of its recent sessions, keyed by (owner, the
source's pool key: see mailstore.imap), checks one out for the length of a request and puts
it back (mailstore.reader.mail_session does both). Idle
connections are closed after WEBMAIL_IMAP_IDLE_SECONDS; at most WEBMAIL_IMAP_POOL_MAX stay
open per process (the least recently used go first). Logging out closes the session's ones.

Thread-safe: runserver and threaded gunicorn workers serve one session's parallel requests
with separate connections (a second request opens a second connection, both are kept).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import imapclient
from django.conf import settings

from mailstore.errors import MailstoreError, Unavailable
from mailstore.imap import close_client, view_changes

logger = logging.getLogger(__name__)

# A connection idle longer than this is probed with NOOP before reuse (Dovecot restarted?).
PROBE_AFTER_SECONDS = 5.0


def idle_seconds() -> float:
    return float(settings.WEBMAIL_IMAP_IDLE_SECONDS)


def pool_max() -> int:
    return int(settings.WEBMAIL_IMAP_POOL_MAX)


@dataclass
class PooledConnection:
    client: imapclient.IMAPClient
    key: tuple
    last_used: float = field(default_factory=time.monotonic)
    selected: str | None = None  # folder currently selected
    selected_readonly: bool = False  # ... with EXAMINE (no change possible until re-selected)
    # Results that depend only on which messages the selected folder holds (SORT and THREAD of
    # immutable keys), kept while the server reports no change on this connection (see
    # mailstore.reader.MailSession.select).
    view_memo: dict = field(default_factory=dict)
    qresync: bool = False  # ENABLE QRESYNC sent (it lasts for the connection)


class ImapPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: OrderedDict[int, PooledConnection] = OrderedDict()  # id → conn, LRU order

    def _take(self, key: tuple) -> PooledConnection | None:
        with self._lock:
            for ident, conn in reversed(self._idle.items()):
                if conn.key == key:
                    del self._idle[ident]
                    return conn
        return None

    def _evict_expired(self) -> list[PooledConnection]:
        now = time.monotonic()
        limit = idle_seconds()
        expired = []
        with self._lock:
            for ident, conn in list(self._idle.items()):
                if now - conn.last_used > limit:
                    expired.append(self._idle.pop(ident))
            while len(self._idle) > pool_max():
                _ident, conn = self._idle.popitem(last=False)
                expired.append(conn)
        return expired

    def checkout(self, key: tuple, opener: Callable[[], imapclient.IMAPClient]) -> PooledConnection:
        for old in self._evict_expired():
            _close(old)
        conn = self._take(key)
        while conn is not None:
            if time.monotonic() - conn.last_used < PROBE_AFTER_SECONDS or _alive(conn):
                return conn
            _close(conn)
            conn = self._take(key)
        return PooledConnection(client=opener(), key=key)

    def checkin(self, conn: PooledConnection) -> None:
        conn.last_used = time.monotonic()
        with self._lock:
            self._idle[id(conn)] = conn
        for old in self._evict_expired():
            _close(old)

    def discard(self, conn: PooledConnection) -> None:
        _close(conn, logout=False)

    def close_session(self, session_key: str) -> int:
        with self._lock:
            mine = [ident for ident, conn in self._idle.items() if conn.key[0] == session_key]
            conns = [self._idle.pop(ident) for ident in mine]
        for conn in conns:
            _close(conn)
        return len(conns)

    def close_all(self) -> None:
        with self._lock:
            conns = list(self._idle.values())
            self._idle.clear()
        for conn in conns:
            _close(conn)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)

    @contextmanager
    def connection(
        self, key: tuple, opener: Callable[[], imapclient.IMAPClient]
    ) -> Iterator[PooledConnection]:
        conn = self.checkout(key, opener)
        try:
            yield conn
        except BaseException as exc:
            if _connection_fine(exc) and _alive(conn):
                self.checkin(conn)  # a NO/BAD answer, or a NotFound: the connection is fine
            else:
                self.discard(conn)
            raise
        else:
            self.checkin(conn)


def _connection_fine(exc: BaseException) -> bool:
    """A mail-store answer (not found, refused, over quota, read-only) leaves the session usable;
    a lost connection (Unavailable) or anything else (the caller's own failure, which may have
    interrupted a command half-way) does not."""
    return isinstance(exc, MailstoreError) and not isinstance(exc, Unavailable)


def _alive(conn: PooledConnection) -> bool:
    changed = view_changes(conn.client)
    if changed:
        conn.view_memo.clear()  # the probe saw the change: the next select's NOOP will not
    return changed is not None


def _close(conn: PooledConnection, *, logout: bool = True) -> None:
    close_client(conn.client, logout=logout)


POOL = ImapPool()
