"""Brute-force blocking of logins, shared by every place that checks a password.

Failures are counted in Redis per login and per remote IP over a fixed window
(settings.BRUTEFORCE_WINDOW_SECONDS). When a counter reaches its threshold, a block key with
its own lifetime (BRUTEFORCE_BLOCK_SECONDS) refuses further attempts for that login or IP, even
with the right password. Counting and blocking happen in one Lua script, so parallel attempts
on several servers cannot slip between the increment and the block.

IPv6 addresses are counted per /64: one subscriber usually holds a whole /64.
Any Redis problem raises BruteforceUnavailable; callers answer "try again later", never "ok".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

import redis
from django.conf import settings

from accounts.logins import canonical_login

# KEYS: fail:login, fail:ip, block:login, block:ip, seen:login (the IP keys and seen may be ""
#       = no IP known / no password fingerprint)
# ARGV: login threshold, IP threshold, window seconds, block seconds, password fingerprint
# Returns {login failures, IP failures, blocked (0/1)}.
_RECORD_FAILURE = """
local login_fail, ip_fail, blocked = 0, 0, 0
if KEYS[5] ~= '' then
  -- The same wrong password again (a phone retrying an old password) counts once per window.
  local added = redis.call('SADD', KEYS[5], ARGV[5])
  if redis.call('TTL', KEYS[5]) < 0 then redis.call('EXPIRE', KEYS[5], ARGV[3]) end
  if added == 0 then
    login_fail = tonumber(redis.call('GET', KEYS[1]) or '0')
    if KEYS[2] ~= '' then ip_fail = tonumber(redis.call('GET', KEYS[2]) or '0') end
    return {login_fail, ip_fail, 0}
  end
end
login_fail = redis.call('INCR', KEYS[1])
if login_fail == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if login_fail >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
  blocked = 1
end
if KEYS[2] ~= '' then
  ip_fail = redis.call('INCR', KEYS[2])
  if ip_fail == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  if ip_fail >= tonumber(ARGV[2]) then
    redis.call('SET', KEYS[4], '1', 'EX', ARGV[4])
    blocked = 1
  end
end
return {login_fail, ip_fail, blocked}
"""

class BruteforceUnavailable(Exception):
    """The counters cannot be read or written (Redis down or too slow)."""


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    by_login: bool = False
    by_ip: bool = False


@dataclass(frozen=True)
class FailureCount:
    login_failures: int
    ip_failures: int
    blocked: bool


_clients: dict[str, redis.Redis] = {}


def _client() -> redis.Redis:
    url = settings.BRUTEFORCE_REDIS_URL
    client = _clients.get(url)
    if client is None:
        # Short timeouts: a login must not hang on a sick Redis; it gets a temporary failure.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _clients[url] = client
    return client


def normalize_login(login: str) -> str:
    """The login every counter is keyed by: its canonical form (accounts.logins), so that
    IDNA-equivalent spellings of one address share one budget."""
    return canonical_login(login)


def ip_bucket(remote_ip: str | None) -> str:
    """The unit counted for an address: the address itself, or its /64 for IPv6."""
    if not remote_ip:
        return ""
    try:
        address = ipaddress.ip_address(remote_ip)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(login: str, remote_ip: str | None) -> tuple[str, str, str, str]:
    prefix = settings.BRUTEFORCE_KEY_PREFIX
    login = normalize_login(login)
    bucket = ip_bucket(remote_ip)
    return (
        f"{prefix}:fail:login:{login}",
        f"{prefix}:fail:ip:{bucket}" if bucket else "",
        f"{prefix}:block:login:{login}",
        f"{prefix}:block:ip:{bucket}" if bucket else "",
    )


def _seen_key(login: str) -> str:
    return f"{settings.BRUTEFORCE_KEY_PREFIX}:seen:login:{normalize_login(login)}"


def check(*, login: str, remote_ip: str | None) -> Verdict:
    """Is this login, or this address, blocked right now? One round trip."""
    _, _, block_login, block_ip = _keys(login, remote_ip)
    keys = [block_login, block_ip] if block_ip else [block_login]
    try:
        values = _client().mget(keys)
    except redis.RedisError as exc:
        raise BruteforceUnavailable(str(exc)) from exc
    by_login = values[0] is not None
    by_ip = len(values) > 1 and values[1] is not None
    return Verdict(blocked=by_login or by_ip, by_login=by_login, by_ip=by_ip)


def record_failure(*, login: str, remote_ip: str | None, password_fingerprint: str = "") -> FailureCount:
    """Count a failed attempt. With `password_fingerprint` (a keyed hash of the password tried,
    never the password), repeating the same wrong password within the window counts once."""
    fail_login, fail_ip, block_login, block_ip = _keys(login, remote_ip)
    seen = _seen_key(login) if password_fingerprint else ""
    try:
        login_failures, ip_failures, blocked = _client().eval(
            _RECORD_FAILURE,
            5,
            fail_login,
            fail_ip,
            block_login,
            block_ip,
            seen,
            settings.BRUTEFORCE_LOGIN_FAILURES,
            settings.BRUTEFORCE_IP_FAILURES,
            settings.BRUTEFORCE_WINDOW_SECONDS,
            settings.BRUTEFORCE_BLOCK_SECONDS,
            password_fingerprint,
        )
    except redis.RedisError as exc:
        raise BruteforceUnavailable(str(exc)) from exc
    return FailureCount(
        login_failures=int(login_failures), ip_failures=int(ip_failures), blocked=bool(blocked)
    )


def password_fingerprint(*, login: str, password: str) -> str:
    """A short keyed hash of (login, password): tells repeats apart, reveals nothing."""
    key = settings.SECRET_KEY.encode()
    message = normalize_login(login).encode() + b"\0" + (password or "").encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def record_success(*, login: str) -> None:
    """A right password clears that login's failure count. The address's count stays: an
    attacker who owns one account must not wipe the failures it made against the others."""
    fail_login, _, _, _ = _keys(login, None)
    seen = _seen_key(login)
    try:
        _client().delete(fail_login, seen)
    except redis.RedisError as exc:
        raise BruteforceUnavailable(str(exc)) from exc


def unblock(*, login: str = "", remote_ip: str | None = None) -> None:
    """Lift a block and its counter (support staff, after checking who is asking)."""
    fail_login, fail_ip, block_login, block_ip = _keys(login, remote_ip)
    seen = _seen_key(login)
    keys = [k for k in ((fail_login, block_login, seen) if login else ()) + (fail_ip, block_ip) if k]
    if not keys:
        return
    try:
        _client().delete(*keys)
    except redis.RedisError as exc:
        raise BruteforceUnavailable(str(exc)) from exc


# KEYS: count:login, count:ip (may be "")   ARGV: window seconds
# Returns {login count, IP count} after counting this request.
_COUNT_REQUEST = """
local login_count = redis.call('INCR', KEYS[1])
if login_count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ip_count = 0
if KEYS[2] ~= '' then
  ip_count = redis.call('INCR', KEYS[2])
  if ip_count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
end
return {login_count, ip_count}
"""


def request_allowed(
    *, scope: str, login: str, remote_ip: str | None, login_limit: int, ip_limit: int, window: int
) -> bool:
    """Count one request of kind `scope` (e.g. "recovery") for this login and this address, and
    say whether both are still within their limit for the window. Every request counts, known
    login or not, so the answer never tells whether the login exists."""
    prefix = settings.BRUTEFORCE_KEY_PREFIX
    bucket = ip_bucket(remote_ip)
    login_key = f"{prefix}:{scope}:login:{normalize_login(login)}"
    ip_key = f"{prefix}:{scope}:ip:{bucket}" if bucket else ""
    try:
        login_count, ip_count = _client().eval(_COUNT_REQUEST, 2, login_key, ip_key, window)
    except redis.RedisError as exc:
        raise BruteforceUnavailable(str(exc)) from exc
    return int(login_count) <= login_limit and (not bucket or int(ip_count) <= ip_limit)
