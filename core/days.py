"""Local days as ranges of aware instants.

"Today", "midnight" and a date typed in a filter are Europe/Rome days (settings.TIME_ZONE, the
current time zone); the database stores UTC. A local day is 23, 24 or 25 hours long (DST), so
its end is the next local midnight, never start + 24 h."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def local_midnight(day: dt.date) -> dt.datetime:
    """The aware instant at which the local `day` begins."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the local `day` as aware instants."""
    return local_midnight(day), local_midnight(day + dt.timedelta(days=1))


def range_start(value: dt.date | dt.datetime) -> dt.datetime:
    """Lower bound (included) of a filter: a date is its local midnight; a datetime is exact (a
    naive one is read in the local zone)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return local_midnight(value)


def range_end(value: dt.date | dt.datetime) -> dt.datetime:
    """Upper bound (excluded) of a filter: a date includes its whole local day (the next local
    midnight); a datetime is exact (a naive one is read in the local zone)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return local_midnight(value + dt.timedelta(days=1))
