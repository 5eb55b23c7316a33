"""The MX client's host name for rspamd: forward-confirmed reverse DNS, through the test DNS server."""

import pytest

from mta import rdns


@pytest.fixture(autouse=True)
def _fresh_cache():
    rdns.cache_clear()
    yield
    rdns.cache_clear()


def test_a_ptr_name_counts_only_when_it_points_back_to_the_address(dns_server):
    dns_server.set("44.2.0.192.in-addr.arpa", "PTR", "mail.far.example.")
    dns_server.set("mail.far.example", "A", "192.0.2.44")
    dns_server.set("45.2.0.192.in-addr.arpa", "PTR", "bank.example.")  # written by the address's owner
    dns_server.set("bank.example", "A", "198.51.100.1")
    assert rdns.client_hostname("192.0.2.44") == "mail.far.example"
    assert rdns.client_hostname("::ffff:192.0.2.44") == "mail.far.example"
    assert rdns.client_hostname("192.0.2.45") == "unknown"
    assert rdns.client_hostname("192.0.2.46") == "unknown"  # no PTR at all
    assert rdns.client_hostname(None) == "unknown"
