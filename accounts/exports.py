"""CSV export of the access log (the writer and its formula guard: core.csvexport)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccessLogEntry
from core.csvexport import csv_lines


def access_log_csv(rows: Iterable[AccessLogEntry]) -> Iterator[str]:
    """CSV lines (with line ends): a header, then one line per row, times in the local zone.

    Takes any iterable (a queryset is streamed with .iterator()), so a StreamingHttpResponse
    can send a month of attempts without holding them in memory."""
    if hasattr(rows, "iterator"):
        rows = rows.iterator(chunk_size=2000)
    header = [_("When"), _("Login"), _("Protocol"), _("IP address"), _("TLS"), _("Result"), _("Reason")]
    return csv_lines(header, (
        [
            timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M:%S"),
            row.login,
            row.protocol,
            row.remote_ip or "",
            _("yes") if row.tls else _("no"),
            row.result,
            row.reason,
        ]
        for row in rows
    ))
