"""CSV export: one streamed writer with the formula guard, for every export of the suite
(the access log, Tracemail).

A cell that a spreadsheet would run as a formula (it starts with = + - @ tab or CR) gets a
leading apostrophe: logins, subjects and reasons are typed by strangers (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Text for a spreadsheet: a value typed by an attacker must not run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_lines(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV lines (with CRLF line ends): the header, then one line per row, every cell guarded.

    The header is rendered when the first line is produced, so lazy translations follow the
    language active while the response streams. `rows` may be any iterable (a generator over a
    queryset's .iterator()): a StreamingHttpResponse sends a month of rows without holding them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Sequence[object]) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow([csv_cell(v) for v in values])
        return buffer.getvalue()

    yield line([str(label) for label in header])
    for row in rows:
        yield line(row)


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """The whole CSV as one string (for small exports and tests)."""
    return "".join(csv_lines(header, rows))
