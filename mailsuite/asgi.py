"""The ASGI application: served by uvicorn for /Microsoft-Server-ActiveSync (Procfile
`activesync`, compose `activesync`), where a waiting Ping holds no thread (activesync.ping)."""

import os

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


django.setup(set_prefix=False)
application = Handler()
