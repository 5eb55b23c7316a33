import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
import redis

from mta import sendlimit

ROME = ZoneInfo("Europe/Rome")


def test_reserve_counts_up_to_the_limit_then_refuses():
    # given a mailbox with a limit of 3
    # when it reserves four recipients one by one
    results = [sendlimit.reserve(mailbox_id=7, limit=3) for _ in range(4)]
    # then the first three pass and the fourth is refused, the counter staying at 3
    assert [(r.ok, r.used) for r in results] == [(True, 1), (True, 2), (True, 3), (False, 3)]
    assert sendlimit.used_today(mailbox_id=7) == 3


def test_raising_the_limit_takes_effect_at_once():
    # given a mailbox at its limit of 2
    for _ in range(2):
        sendlimit.reserve(mailbox_id=8, limit=2)
    assert sendlimit.reserve(mailbox_id=8, limit=2).ok is False
    # when the next check runs with the new limit
    result = sendlimit.reserve(mailbox_id=8, limit=1000)
    # then it passes, the count continuing from the same day's counter
    assert (result.ok, result.used, result.limit) == (True, 3, 1000)


def test_parallel_reservations_never_exceed_the_limit():
    # given 200 concurrent reservations against a limit of 50
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: sendlimit.reserve(mailbox_id=9, limit=50), range(200)))
    # then exactly 50 succeed
    assert sum(r.ok for r in results) == 50
    assert sendlimit.used_today(mailbox_id=9) == 50


def test_refund_gives_units_back_and_never_goes_below_zero():
    reservation = sendlimit.reserve(mailbox_id=10, limit=5)
    sendlimit.refund(key=reservation.key)
    sendlimit.refund(key=reservation.key)
    assert sendlimit.used_today(mailbox_id=10) == 0


def test_the_counter_is_per_local_day_and_expires_after_rome_midnight(sendlimit_prefix):
    # given 23:30 in Rome two days from now, and 00:30 the day after (future: the keys live)
    day = dt.datetime.now(tz=ROME).date() + dt.timedelta(days=2)
    late = dt.datetime.combine(day, dt.time(23, 30), tzinfo=ROME)
    after_midnight = late + dt.timedelta(hours=1)
    next_day = day + dt.timedelta(days=1)
    # when the mailbox reserves on both sides of midnight
    first = sendlimit.reserve(mailbox_id=11, limit=1, now=late)
    second = sendlimit.reserve(mailbox_id=11, limit=1, now=after_midnight)
    # then they are different counters, each with its own unit
    assert first.ok and second.ok
    assert first.key == f"{sendlimit_prefix}:11:{day.isoformat()}"
    assert second.key == f"{sendlimit_prefix}:11:{next_day.isoformat()}"
    assert first.resets_at == dt.datetime.combine(next_day, dt.time(0, 0), tzinfo=ROME)
    # and the first key expires one hour after its midnight
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    assert client.expiretime(first.key) == int(
        dt.datetime.combine(next_day, dt.time(1, 0), tzinfo=ROME).timestamp()
    )
    client.close()


def test_redis_down_raises_send_limit_unavailable(redis_down):
    with pytest.raises(sendlimit.SendLimitUnavailable):
        sendlimit.reserve(mailbox_id=12, limit=250)


UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("now_utc", "day", "resets_at_utc"),
    [
        # an ordinary winter day: Rome is UTC+1
        (
            dt.datetime(2026, 1, 15, 22, 59, 59, tzinfo=UTC),
            dt.date(2026, 1, 15),
            dt.datetime(2026, 1, 15, 23, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 1, 15, 23, 0, 0, tzinfo=UTC),
            dt.date(2026, 1, 16),
            dt.datetime(2026, 1, 16, 23, 0, tzinfo=UTC),
        ),
        # 29 March 2026, 23 hours long (02:00 CET → 03:00 CEST): it starts at 23:00 UTC the day
        # before and ends at 22:00 UTC
        (
            dt.datetime(2026, 3, 28, 23, 0, 0, tzinfo=UTC),
            dt.date(2026, 3, 29),
            dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC),
            dt.date(2026, 3, 29),
            dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 3, 29, 22, 0, 0, tzinfo=UTC),
            dt.date(2026, 3, 30),
            dt.datetime(2026, 3, 30, 22, 0, tzinfo=UTC),
        ),
        # 25 October 2026, 25 hours long (03:00 CEST → 02:00 CET): 22:00 UTC the day before to
        # 23:00 UTC; the repeated 02:xx hour belongs to the same day
        (
            dt.datetime(2026, 10, 24, 22, 0, 0, tzinfo=UTC),
            dt.date(2026, 10, 25),
            dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 25, 0, 30, 0, tzinfo=UTC),
            dt.date(2026, 10, 25),
            dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 25, 1, 30, 0, tzinfo=UTC),
            dt.date(2026, 10, 25),
            dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC),
            dt.date(2026, 10, 25),
            dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 10, 25, 23, 0, 0, tzinfo=UTC),
            dt.date(2026, 10, 26),
            dt.datetime(2026, 10, 26, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_day_window_follows_rome_midnight_across_dst_changes(now_utc, day, resets_at_utc):
    assert sendlimit.day_window(now_utc) == (day, resets_at_utc)
