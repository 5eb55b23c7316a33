"""The ActiveSync HTTP endpoint (MS-ASHTTP): OPTIONS says what the server speaks, POST carries
one command (?Cmd=…&User=…&DeviceId=…&DeviceType=…) with a WBXML body.

Authentication is HTTP Basic with the mailbox address, checked by the same function as SMTP AUTH
(domains.mailauth.authenticate_mail, protocol "activesync"): app passwords always, the main
password only where 2FA does not apply, brute-force blocking, an access-log row per attempt, a
suspended mailbox or domain refused. Then the device (devices.services.device_seen): a blocked
device is refused, and every command except Provision needs the device's current policy key."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, close_old_connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from activesync import commands, ping
from activesync.context import Context, element
from activesync.wbxml import WBXMLError, decode, encode
from core.client_address import client_ip
from devices.models import Device
from devices.services import device_seen
from domains import mailauth
from mailstore.errors import MailstoreError

logger = logging.getLogger(__name__)

PROTOCOL_VERSIONS = ("14.1", "16.1")
WBXML_TYPE = "application/vnd.ms-sync.wbxml"
MAX_BODY_BYTES = 50 * 1024 * 1024  # a SendMail with attachments
# Elements in a request: a Sync of 500 changes has ~3,000; each costs ~80 bytes decoded, and a
# body of one-byte empty tags within MAX_BODY_BYTES would be 4 GB and minutes of CPU.
MAX_REQUEST_ELEMENTS = 100_000


def _server_headers(response: HttpResponse) -> HttpResponse:
    response["MS-Server-ActiveSync"] = "16.1"
    response["Cache-Control"] = "private"
    return response


def _options() -> HttpResponse:
    response = _server_headers(HttpResponse(status=200))
    response["MS-ASProtocolVersions"] = ",".join(PROTOCOL_VERSIONS)
    response["MS-ASProtocolCommands"] = ",".join(commands.SUPPORTED)
    response["Allow"] = "OPTIONS,POST"
    response["Public"] = "OPTIONS,POST"
    return response


def _unauthorized() -> HttpResponse:
    response = _server_headers(HttpResponse(status=401))
    response["WWW-Authenticate"] = 'Basic realm="ActiveSync"'
    return response


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error, or a header that is not ASCII
        return None
    login, sep, password = decoded.partition(":")
    if not sep or not login or "\x00" in decoded:  # PostgreSQL text holds no NUL: no such login
        return None
    # Some devices send DOMAIN\user; our logins are addresses.
    return login.rsplit("\\", 1)[-1], password


def _tls_ok(request: HttpRequest) -> bool:
    return request.is_secure() or bool(getattr(settings, "ACTIVESYNC_ALLOW_PLAIN_HTTP", False))


_workers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor]
_workers = weakref.WeakKeyDictionary()


def _sync_workers() -> ThreadPoolExecutor:
    """The threads that run the synchronous part of this process's requests, at most
    ACTIVESYNC_SYNC_CONCURRENCY at once (the others queue). Each keeps its database connection
    between requests (CONN_MAX_AGE, as a WSGI worker thread does): a thread and a connection
    per request cost a PostgreSQL backend start on every Sync and Ping (bench/activesync.py),
    and 1,000 phones Pinging at once exhausted PostgreSQL's connections."""
    loop = asyncio.get_running_loop()
    workers = _workers.get(loop)
    if workers is None:
        workers = _workers[loop] = ThreadPoolExecutor(
            max_workers=int(settings.ACTIVESYNC_SYNC_CONCURRENCY), thread_name_prefix="activesync"
        )
    return workers


def _handle_in_worker(request: HttpRequest) -> HttpResponse | ping.Waiting:
    # What Django's request_started and request_finished do for the connections of the thread
    # that serves a request: drop one past CONN_MAX_AGE, broken or left in error.
    close_old_connections()
    try:
        return _handle(request)
    finally:
        close_old_connections()


@csrf_exempt
async def endpoint(request: HttpRequest) -> HttpResponse:
    """Async so that a waiting Ping holds no thread (served by the ASGI process, mailsuite.asgi):
    everything else runs as before, synchronously in a worker thread."""
    if isinstance(request, ASGIRequest):
        # The synchronous part in one of the process's worker threads, given back before a Ping
        # waits (mailsuite.asgi.Handler runs this path without a thread of its own).
        call = functools.partial(contextvars.copy_context().run, _handle_in_worker, request)
        outcome = await asyncio.get_running_loop().run_in_executor(_sync_workers(), call)
    else:
        # Under WSGI (runserver, the test client) in the request's own thread, as before.
        outcome = await sync_to_async(_handle)(request)
    if not isinstance(outcome, ping.Waiting):
        return outcome
    try:
        answer = await ping.wait(outcome)
    except MailstoreError:
        logger.exception("ActiveSync Ping: mail store unavailable")
        return _retry_later()
    return _server_headers(HttpResponse(encode(answer), content_type=WBXML_TYPE))


def _handle(request: HttpRequest) -> HttpResponse | ping.Waiting:
    if request.method == "OPTIONS":
        return _options()  # what the server speaks is public; phones ask before they log in
    if request.method != "POST":
        return _server_headers(HttpResponse(status=405))
    if not _tls_ok(request):
        return _server_headers(HttpResponse(status=403))
    credentials = _credentials(request)
    if credentials is None:
        return _unauthorized()
    login, password = credentials
    try:
        result = mailauth.authenticate_mail(
            login, password, protocol="activesync", remote_ip=client_ip(request), tls=request.is_secure()
        )
    except DatabaseError:
        logger.exception("ActiveSync: authentication unavailable")
        return _retry_later()
    if result.temporary:
        return _retry_later()
    if result.reason == mailauth.BLOCKED:
        response = _server_headers(HttpResponse(status=429))
        response["Retry-After"] = str(settings.BRUTEFORCE_BLOCK_SECONDS)
        return response
    if not result.ok or result.mailbox is None:
        return _unauthorized()

    query = _query(request)
    if query is None:
        return _server_headers(HttpResponse(status=400))
    command, device_id, device_type = query.command, query.device_id, query.device_type
    user_agent = request.headers.get("User-Agent", "")
    if command not in commands.SUPPORTED or not device_id or len(device_id) > 64:
        return _server_headers(HttpResponse(status=400))
    if any("\x00" in value for value in (device_id, device_type, user_agent)):
        return _server_headers(HttpResponse(status=400))  # PostgreSQL text cannot hold a NUL
    version = query.version or request.headers.get("MS-ASProtocolVersion", "14.1")
    if version not in PROTOCOL_VERSIONS:
        return _server_headers(HttpResponse(status=400))
    length = (request.headers.get("Content-Length") or "0").strip()
    if not length.isascii() or not length.isdigit():
        return _server_headers(HttpResponse(status=400))
    if len(length) > 12 or int(length) > MAX_BODY_BYTES:
        return _server_headers(HttpResponse(status=413))

    device = device_seen(
        mailbox=result.mailbox,
        device_id=device_id,
        device_type=device_type,
        user_agent=user_agent,
        protocol_version=version,
    )
    if device.state == Device.State.BLOCKED:
        return _server_headers(HttpResponse(status=403))

    # Read from the stream, not request.body: that refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE
    # (2.5 MB: a SendMail with a photo was a 400); the limit here is MAX_BODY_BYTES, also for a
    # body sent without Content-Length.
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _server_headers(HttpResponse(status=413))
    document: Element | None = None
    if body:
        try:
            document = decode(body, max_elements=MAX_REQUEST_ELEMENTS)
        except WBXMLError as exc:
            logger.info("ActiveSync %s from %s: bad WBXML: %s", command, device_id, exc)
            return _server_headers(HttpResponse(status=400))

    context = Context(
        mailbox=result.mailbox,
        device=device,
        version=version,
        client_ip=client_ip(request),
        login=login,
        password=password,
        policy_key=query.policy_key
        if query.policy_key is not None
        else request.headers.get("X-MS-PolicyKey", ""),
    )
    try:
        answer = commands.run(command, context, document)
    except commands.BadRequest as exc:
        logger.info("ActiveSync %s from %s: %s", command, device_id, exc)
        return _server_headers(HttpResponse(status=400))
    except MailstoreError:
        logger.exception("ActiveSync %s: mail store unavailable", command)
        return _retry_later()
    if isinstance(answer, ping.Waiting):
        return answer
    if answer is None:
        return _server_headers(HttpResponse(status=200))
    response = HttpResponse(encode(answer), content_type=WBXML_TYPE)
    return _server_headers(response)


@dataclass(frozen=True)
class _Query:
    """What the request line says: the command and the device, and in the base64 form also the
    protocol version and the policy key (otherwise in headers)."""

    command: str
    device_id: str
    device_type: str
    version: str | None = None
    policy_key: str | None = None


# MS-ASHTTP 2.2.1.1.1.1.2: the command codes of the base64-encoded request line.
_BASE64_COMMANDS = {
    0: "Sync",
    1: "SendMail",
    2: "SmartForward",
    3: "SmartReply",
    4: "GetAttachment",
    9: "FolderSync",
    10: "FolderCreate",
    11: "FolderDelete",
    12: "FolderUpdate",
    13: "MoveItems",
    14: "GetItemEstimate",
    15: "MeetingResponse",
    16: "Search",
    17: "Settings",
    18: "Ping",
    19: "ItemOperations",
    20: "Provision",
    21: "ResolveRecipients",
    22: "ValidateCert",
    23: "Find",
}


def _query(request: HttpRequest) -> _Query | None:
    """The request line in either form (MS-ASHTTP 2.2.1.1.1.1): "?Cmd=…&DeviceId=…&DeviceType=…",
    or one base64 value (Windows Mail and other clients): version, command, locale, then the
    device id (binary, given here as lowercase hex, as other servers do), the policy key (a
    little-endian 32-bit number) and the device type, each after its length, then tagged
    parameters this server needs none of. None when the line is neither."""
    if "Cmd" in request.GET:
        return _Query(
            command=request.GET.get("Cmd", ""),
            device_id=request.GET.get("DeviceId", ""),
            device_type=request.GET.get("DeviceType", ""),
        )
    line = unquote(request.META.get("QUERY_STRING", "")).strip()
    if not line or len(line) > 2048:
        return None
    try:
        data = base64.b64decode(line, validate=True)
    except ValueError:  # binascii.Error
        return None
    if len(data) < 5:
        return None
    version, code = data[0], data[1]
    pos = 4  # after version, command and the two bytes of the locale

    def field(limit: int) -> bytes | None:
        nonlocal pos
        if pos >= len(data):
            return None
        length = data[pos]
        value = data[pos + 1 : pos + 1 + length]
        if length > limit or len(value) != length:
            return None
        pos += 1 + length
        return value

    device_id, policy_key, device_type = field(32), field(4), field(64)
    if device_id is None or policy_key is None or device_type is None or code not in _BASE64_COMMANDS:
        return None
    if policy_key and len(policy_key) != 4:
        return None
    try:
        kind = device_type.decode("ascii")
    except UnicodeDecodeError:
        return None
    return _Query(
        command=_BASE64_COMMANDS[code],
        device_id=device_id.hex(),
        device_type=kind,
        version=f"{version // 10}.{version % 10}",
        policy_key=str(int.from_bytes(policy_key, "little")) if policy_key else "",
    )


def _retry_later() -> HttpResponse:
    response = _server_headers(HttpResponse(status=503))
    response["Retry-After"] = "60"
    return response


__all__ = ["endpoint", "element"]
