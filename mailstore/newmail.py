"""New-mail notifications: the suite's delivery path (mta.lmtp, after Dovecot's 250) publishes
on a Redis channel per mailbox; ActiveSync's Ping (activesync.push) waits on it.

A notification is only a hint to look again: the waiter re-reads the folders' IMAP state, so a
lost, duplicated or stray message (a channel shared by another database on the same Redis) never
gives a wrong answer. Publishing never fails a delivery."""

from __future__ import annotations

import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_client: redis.Redis | None = None


def channel(mailbox_id: int) -> str:
    return f"{settings.NEWMAIL_CHANNEL_PREFIX}{mailbox_id}"


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.NEWMAIL_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def new_mail_published(*, mailbox_id: int) -> None:
    try:
        _redis().publish(channel(mailbox_id), b"1")
    except redis.RedisError:
        # The message is in the mailbox; a phone sees it at its next Ping (heartbeat end) anyway.
        logger.warning("new-mail notification for mailbox %s not published", mailbox_id, exc_info=True)
