"""accounts.bruteforce: Redis counters per login and per address, atomic, with a block."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts import bruteforce


def test_failures_are_counted_per_login_and_address_with_the_window_as_lifetime(
    bruteforce_prefix, redis_client
):
    bruteforce.record_failure(login="Mario@Example.test", remote_ip="198.51.100.7")
    count = bruteforce.record_failure(login="mario@example.test", remote_ip="198.51.100.7")

    assert count == bruteforce.FailureCount(login_failures=2, ip_failures=2, blocked=False)
    assert 890 <= redis_client.ttl(f"{bruteforce_prefix}:fail:login:mario@example.test") <= 900
    assert 890 <= redis_client.ttl(f"{bruteforce_prefix}:fail:ip:198.51.100.7") <= 900


def test_reaching_the_login_threshold_sets_a_block_for_block_seconds(
    bruteforce_prefix, redis_client, settings
):
    settings.BRUTEFORCE_BLOCK_SECONDS = 600
    counts = [bruteforce.record_failure(login="mario@example.test", remote_ip=None) for _ in range(10)]

    assert [c.blocked for c in counts] == [False] * 9 + [True]
    assert bruteforce.check(login="mario@example.test", remote_ip="192.0.2.1") == bruteforce.Verdict(
        blocked=True, by_login=True, by_ip=False)
    assert 590 <= redis_client.ttl(f"{bruteforce_prefix}:block:login:mario@example.test") <= 600


def test_address_block_does_not_block_the_same_login_elsewhere(bruteforce_prefix):
    for i in range(30):
        bruteforce.record_failure(login=f"user{i}@example.test", remote_ip="203.0.113.9")

    assert bruteforce.check(login="user0@example.test", remote_ip="203.0.113.9").by_ip is True
    assert bruteforce.check(login="other@example.test", remote_ip="203.0.113.10").blocked is False


def test_ipv6_addresses_of_one_slash_64_share_a_counter(bruteforce_prefix):
    bruteforce.record_failure(login="a@example.test", remote_ip="2001:db8:1:2::1")
    count = bruteforce.record_failure(login="b@example.test", remote_ip="2001:db8:1:2:ffff::9")
    other = bruteforce.record_failure(login="c@example.test", remote_ip="2001:db8:1:3::1")

    assert (count.ip_failures, other.ip_failures) == (2, 1)
    assert bruteforce.ip_bucket("::ffff:198.51.100.7") == "198.51.100.7"
    assert bruteforce.ip_bucket("not-an-ip") == ""


def test_parallel_failures_are_all_counted(bruteforce_prefix, redis_client):
    with ThreadPoolExecutor(max_workers=8) as pool:
        def fail(_):
            return bruteforce.record_failure(login="x@example.test", remote_ip="192.0.2.5")

        list(pool.map(fail, range(64)))

    assert redis_client.get(f"{bruteforce_prefix}:fail:login:x@example.test") == "64"
    assert redis_client.get(f"{bruteforce_prefix}:fail:ip:192.0.2.5") == "64"


def test_unblock_lifts_the_block_and_the_counter(bruteforce_prefix):
    for _ in range(10):
        bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5")

    bruteforce.unblock(login="mario@example.test")

    assert bruteforce.check(login="mario@example.test", remote_ip=None).blocked is False
    assert bruteforce.record_failure(login="mario@example.test", remote_ip=None).login_failures == 1


def test_redis_down_raises_the_one_error_type(redis_down):
    with pytest.raises(bruteforce.BruteforceUnavailable):
        bruteforce.check(login="mario@example.test", remote_ip="192.0.2.5")
    with pytest.raises(bruteforce.BruteforceUnavailable):
        bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5")


def test_repeated_fingerprint_counts_once_and_success_forgets_it(bruteforce_prefix):
    fingerprint = bruteforce.password_fingerprint(login="mario@example.test", password="old")
    first = bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5",
                                      password_fingerprint=fingerprint)
    again = bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5",
                                      password_fingerprint=fingerprint)
    other = bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5",
                                      password_fingerprint=bruteforce.password_fingerprint(
                                          login="mario@example.test", password="older"))
    bruteforce.record_success(login="mario@example.test")
    after_success = bruteforce.record_failure(login="mario@example.test", remote_ip="192.0.2.5",
                                              password_fingerprint=fingerprint)

    assert [(c.login_failures, c.ip_failures) for c in (first, again, other, after_success)] == [
        (1, 1), (1, 1), (2, 2), (1, 3)]
    assert fingerprint != bruteforce.password_fingerprint(login="luigi@example.test", password="old")
    assert "old" not in fingerprint and len(fingerprint) == 16
