"""Daily external send limit: one Redis counter per mailbox and local day (Europe/Rome).

`reserve` checks and increments in one Lua script, so parallel sessions of the same mailbox
cannot both take the last unit. The key expires one hour after the local midnight that ends its
day. A recipient reserved in a transaction that does not end in a queued copy (RSET, lost
connection, DATA refused, a retry of a copy already queued) is given back with `refund`.
"""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.utils import timezone

ROME = ZoneInfo("Europe/Rome")

# KEYS[1] counter; ARGV: units, limit, expire-at (unix time).
# Returns {1, new value} when reserved, {0, current value} when it would exceed the limit.
_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = tonumber(ARGV[1])
if current + units > tonumber(ARGV[2]) then
  return {0, current}
end
current = redis.call('INCRBY', KEYS[1], units)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return {1, current}
"""

# Never below zero: a refund after the key expired (midnight passed) must not go negative.
_REFUND = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = math.min(tonumber(ARGV[1]), current)
if units > 0 then
  return redis.call('DECRBY', KEYS[1], units)
end
return current
"""


class SendLimitUnavailable(RuntimeError):
    """Redis did not answer: the caller answers 4xx."""


@dataclass(frozen=True)
class Reservation:
    ok: bool
    used: int  # counter after the reservation (or the current value when refused)
    limit: int
    key: str
    resets_at: dt.datetime  # the next local midnight


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis() -> redis.Redis:
    return _client(settings.SENDLIMIT_REDIS_URL)


def day_window(now: dt.datetime | None = None) -> tuple[dt.date, dt.datetime]:
    """The local (Europe/Rome) day of `now` and the aware datetime of the midnight ending it."""
    local = (now or timezone.now()).astimezone(ROME)
    day = local.date()
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=ROME)
    return day, next_midnight


def counter_key(mailbox_id: int, day: dt.date) -> str:
    return f"{settings.SENDLIMIT_KEY_PREFIX}:{mailbox_id}:{day.isoformat()}"


def reserve(*, mailbox_id: int, limit: int, units: int = 1, now: dt.datetime | None = None) -> Reservation:
    day, resets_at = day_window(now)
    key = counter_key(mailbox_id, day)
    expire_at = int(resets_at.timestamp()) + 3600
    try:
        ok, used = _redis().eval(_RESERVE, 1, key, units, limit, expire_at)
    except redis.RedisError as exc:
        raise SendLimitUnavailable(str(exc)) from exc
    return Reservation(ok=bool(ok), used=int(used), limit=limit, key=key, resets_at=resets_at)


def refund(*, key: str, units: int = 1) -> None:
    if units <= 0:
        return
    try:
        _redis().eval(_REFUND, 1, key, units)
    except redis.RedisError as exc:
        raise SendLimitUnavailable(str(exc)) from exc


def used_today(*, mailbox_id: int, now: dt.datetime | None = None) -> int:
    day, _ = day_window(now)
    try:
        value = _redis().get(counter_key(mailbox_id, day))
    except redis.RedisError as exc:
        raise SendLimitUnavailable(str(exc)) from exc
    return int(value or 0)
