"""Numbers as a device writes them (keys, ids, sizes, counts): ASCII digits only.

str.isdigit() also takes "²" or "١", which int() refuses or reads, and int() refuses a number of
more than 4,300 digits: both made a hostile request fail with HTTP 500."""

from __future__ import annotations

LARGE = 10**18  # more than any key, id, size or count of the protocol; fits a BigIntegerField


def number(text: str | None) -> int | None:
    """The value of `text` (surrounding blanks ignored) when it is a decimal number, else None.
    One too long to mean anything is LARGE: as out of range as it was."""
    digits = (text or "").strip()
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    significant = digits.lstrip("0") or "0"
    return LARGE if len(significant) > 18 else int(significant)
