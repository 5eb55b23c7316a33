"""Waiting for new mail without a thread: one Redis subscriber per event loop (in the ASGI
process: one for the whole process) fans the new-mail channels (mailstore.newmail) out to the
waiting Pings, each an asyncio.Event. 1,000 idle phones cost 1,000 small coroutines and one Redis
connection, not 1,000 threads or IMAP connections (bench/activesync.py).

Under WSGI (runserver, the test client) each async request runs in an event loop of its own: it
gets a subscriber of its own, closed with its last waiter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from django.conf import settings

from mailstore.newmail import channel

logger = logging.getLogger(__name__)


class _Hub:
    def __init__(self) -> None:
        self.client = aioredis.Redis.from_url(settings.NEWMAIL_REDIS_URL)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.subscribed: dict[str, asyncio.Event] = {}
        # redis-py's PubSub opens its connection at the first (un)subscribe: two at once would
        # open two and keep one, and the other's channels would never be read.
        self.lock = asyncio.Lock()
        self.reader: asyncio.Task | None = None

    async def add(self, name: str, event: asyncio.Event) -> None:
        """Returns once `name` is subscribed (by this waiter or an earlier one)."""
        first = name not in self.waiters
        self.waiters.setdefault(name, set()).add(event)
        if not first:
            await self.subscribed[name].wait()
            return
        done = self.subscribed[name] = asyncio.Event()
        try:
            async with self.lock:
                await self.pubsub.subscribe(name)
        except aioredis.RedisError:
            # Without Redis the Ping still ends at its heartbeat (Status 1) and the phone's
            # next Ping looks at the folders again.
            logger.warning("new-mail subscriber: cannot subscribe %s", name, exc_info=True)
        finally:
            done.set()
        if self.reader is None:
            self.reader = asyncio.create_task(self._read())

    async def remove(self, name: str, event: asyncio.Event) -> None:
        events = self.waiters.get(name)
        if events is None:
            return
        events.discard(event)
        if not events:
            del self.waiters[name]
            self.subscribed.pop(name, None)
            # Suppress everything: a phone that hung up cancels its Ping, and the hub may be
            # closing under it (its last waiter gone).
            with contextlib.suppress(Exception):
                async with self.lock:
                    await self.pubsub.unsubscribe(name)

    async def _read(self) -> None:
        while True:
            if self.pubsub.connection is None:  # no subscription yet (Redis was down)
                await asyncio.sleep(1.0)
                continue
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except Exception:  # Redis gone, or a protocol error: the reader must outlive it
                # The waiters still end at their heartbeat; try again shortly.
                logger.warning("new-mail subscriber: cannot read", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            name = message["channel"]
            name = name.decode() if isinstance(name, bytes) else name
            for event in self.waiters.get(name, ()):
                event.set()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        with contextlib.suppress(aioredis.RedisError):
            await self.pubsub.aclose()
            await self.client.aclose()


_hubs: dict[asyncio.AbstractEventLoop, _Hub] = {}


@contextlib.asynccontextmanager
async def new_mail_events(*, mailbox_id: int) -> AsyncIterator[asyncio.Event]:
    """An Event set whenever new mail is announced for the mailbox, subscribed on entry (so mail
    delivered between the caller's first look and its wait is not missed). Clear it before
    looking again."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = _Hub()
    event = asyncio.Event()
    name = channel(mailbox_id)
    try:
        await hub.add(name, event)
        yield event
    finally:
        await hub.remove(name, event)
        if not hub.waiters and _hubs.get(loop) is hub:
            del _hubs[loop]
            await hub.close()
