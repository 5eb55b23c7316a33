"""CSV export of the access log."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccessLogEntry

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Text for a spreadsheet: a login or reason typed by an attacker must not run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def access_log_csv(rows: Iterable[AccessLogEntry]) -> Iterator[str]:
    """CSV lines (with line ends): a header, then one line per row, times in the local zone.

    Takes any iterable (a queryset is streamed with .iterator()), so a StreamingHttpResponse
    can send a month of attempts without holding them in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow([_cell(v) for v in values])
        return buffer.getvalue()

    yield line([_("When"), _("Login"), _("Protocol"), _("IP address"), _("TLS"), _("Result"), _("Reason")])
    if hasattr(rows, "iterator"):
        rows = rows.iterator(chunk_size=2000)
    for row in rows:
        yield line([
            timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M:%S"),
            row.login,
            row.protocol,
            row.remote_ip or "",
            _("yes") if row.tls else _("no"),
            row.result,
            row.reason,
        ])
