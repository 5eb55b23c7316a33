"""Read the email the suite "sent" in development.

With DEBUG on, Django's file email backend writes every outgoing message (postmaster
credentials, notices) into settings.EMAIL_FILE_PATH, one file per connection, messages
separated by a line of 79 dashes. This lists them newest first and prints one in full:

    manage.py sentmail            # list, newest first (numbered 1, 2, ...)
    manage.py sentmail --last     # the newest message in full
    manage.py sentmail --show 3   # the third newest in full
"""

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

SEPARATOR = b"\n" + b"-" * 79 + b"\n"


@dataclass(frozen=True)
class SentMessage:
    path: Path
    sort_key: tuple
    message: EmailMessage

    @property
    def date(self) -> datetime | None:
        return header_date(self.message)


def header_date(message: EmailMessage) -> datetime | None:
    """The Date header, aware (Django writes "-0000", i.e. UTC, unless EMAIL_USE_LOCALTIME)."""
    try:
        value = parsedate_to_datetime(message["Date"])
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_sent_messages(directory: Path) -> list[SentMessage]:
    """Every message in the directory, newest first."""
    found = []
    for path in sorted(directory.glob("*.log")):
        mtime = path.stat().st_mtime_ns
        for index, chunk in enumerate(path.read_bytes().split(SEPARATOR)):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk, policy=email.policy.default)
            sent_at = header_date(message)
            date = sent_at.timestamp() if sent_at else mtime / 1e9
            found.append(SentMessage(path=path, sort_key=(date, mtime, path.name, index), message=message))
    found.sort(key=lambda m: m.sort_key, reverse=True)
    return found


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    return part.get_content()


class Command(BaseCommand):
    help = "List the email written by the development file backend (newest first), or show one in full."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--last", action="store_true", help="print the newest message in full")
        group.add_argument("--show", type=int, metavar="N", help="print the N-th newest message in full")
        parser.add_argument("--limit", type=int, default=20, help="how many messages to list (default 20)")

    def handle(self, *args, last: bool, show: int | None, limit: int, **options):
        directory = getattr(settings, "EMAIL_FILE_PATH", None)
        if not directory:
            raise CommandError(
                f"EMAIL_FILE_PATH is not set: email goes through {settings.EMAIL_BACKEND}, not to files."
            )
        directory = Path(directory)
        messages = read_sent_messages(directory) if directory.is_dir() else []
        if not messages:
            self.stdout.write(f"No email in {directory}.")
            return
        if last:
            show = 1
        if show is not None:
            if not 1 <= show <= len(messages):
                raise CommandError(f"There are {len(messages)} messages; --show takes 1 to {len(messages)}.")
            self._print_full(messages[show - 1])
            return
        self.stdout.write(f"{len(messages)} messages in {directory}, newest first:")
        for number, sent in enumerate(messages[:limit], start=1):
            when = timezone.localtime(sent.date).strftime("%Y-%m-%d %H:%M:%S") if sent.date else "?"
            self.stdout.write(
                f"{number:3d}  {when}  {sent.message['To'] or ''}  {sent.message['Subject'] or ''}"
            )
        if len(messages) > limit:
            self.stdout.write(f"... and {len(messages) - limit} older (--limit).")

    def _print_full(self, sent: SentMessage) -> None:
        message = sent.message
        for header in ("Date", "From", "To", "Cc", "Subject"):
            if message[header]:
                self.stdout.write(f"{header}: {message[header]}")
        self.stdout.write(f"File: {sent.path}")
        self.stdout.write("")
        self.stdout.write(body_text(message).rstrip("\n"))
