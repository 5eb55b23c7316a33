"""mailstore.reader.decode_text: header values as the list shows them."""

import pytest

from mailstore.reader import decode_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("Mario  Rossi ", "Mario  Rossi "),  # plain text comes back exactly as it was
        (b"Caf\xc3\xa9 =? not encoded", "Café =? not encoded"),
        ("=?utf-8?q?Caf=C3=A9?= bar", "Café bar"),
        ("=?iso-8859-1?b?Y2Fm6Q==?=", "café"),
        ("=?x-unknown?q?abc?=", "=?x-unknown?q?abc?="),  # an unknown charset: kept, not an error
    ],
)
def test_decode_text(raw, expected):
    assert decode_text(raw) == expected
