"""The ASGI application: served by uvicorn for /Microsoft-Server-ActiveSync (Procfile
`activesync`, compose `activesync`), where a waiting Ping holds no thread (activesync.ping)."""

import os
import resource

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")

ACTIVESYNC_PATH = "/Microsoft-Server-ActiveSync"


class Handler(ASGIHandler):
    """Django runs each ASGI request inside a ThreadSensitiveContext, whose worker thread lives
    until the request ends: one idle thread per waiting Ping. The ActiveSync path is handled
    without it; its endpoint runs its synchronous part in the process's few worker threads,
    which keep their database connections (activesync.endpoint)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") == ACTIVESYNC_PATH:
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def raise_open_files_limit() -> int:
    """Every waiting phone holds a socket, and systemd and Docker start a process with a soft
    limit of 1,024 open files: the 1,000th phone's connection would be refused (EMFILE) while
    the hard limit allows far more. The soft limit goes up to the hard one (capped at 2**20,
    Linux's default ceiling, when the hard one is unlimited); returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 2**20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


raise_open_files_limit()
django.setup(set_prefix=False)
application = Handler()
