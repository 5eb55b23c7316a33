"""The message list writes its dates as Django's date filter would, in every language."""

from datetime import UTC, datetime, timedelta

from django.utils import dateformat, formats, translation

from portalkit.listing import _date_formatter

TIMES = [
    datetime(2026, 2, 3, 0, 0, tzinfo=UTC),  # midnight
    datetime(2026, 2, 3, 0, 30, tzinfo=UTC),
    datetime(2026, 2, 3, 9, 5, 7, tzinfo=UTC),
    datetime(2026, 2, 3, 12, 0, tzinfo=UTC),  # noon
    datetime(2026, 2, 3, 12, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    datetime(999, 1, 9, 13, 0, tzinfo=UTC),  # a year of three digits
]


def test_every_supported_format_matches_django_in_english_and_italian():
    formats_to_check = ["d/m/Y H:i", "m/d/Y P", "j.n.y G:i:s", "h:i a", "g P", "N j, Y, P", r"\d\a\y d"]
    for language in ("en", "it"):
        with translation.override(language):
            formats_to_check.append(formats.get_format("SHORT_DATETIME_FORMAT"))
            for fmt in formats_to_check:
                write = _date_formatter(fmt)
                for when in TIMES + [t + timedelta(hours=13) for t in TIMES[:-1]]:
                    assert write(when) == dateformat.format(when, fmt), (language, fmt, when)
