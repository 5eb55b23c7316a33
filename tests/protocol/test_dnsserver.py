"""The test DNS server answers real DNS queries (dnspython over UDP and TCP)."""

import dns.message
import dns.query
import dns.rcode
import dns.resolver


def resolver_for(server):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = 3
    return resolver


def test_txt_mx_and_a_records_are_served(dns_server):
    key = "v=DKIM1; k=rsa; p=" + "A" * 400  # longer than one 255-byte TXT string
    dns_server.set("acme.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns_server.set("mail._domainkey.acme.test", "TXT", key)
    dns_server.set("acme.test", "MX", "10 mx.acme.test.")
    dns_server.set("mx.acme.test", "A", "127.0.0.1")
    resolver = resolver_for(dns_server)

    assert [r.to_text() for r in resolver.resolve("acme.test", "TXT")] == ['"v=spf1 ip4:127.0.0.1 -all"']
    dkim = resolver.resolve("mail._domainkey.acme.test", "TXT")[0]
    assert b"".join(dkim.strings).decode() == key
    assert [r.exchange.to_text() for r in resolver.resolve("acme.test", "MX")] == ["mx.acme.test."]
    assert resolver.resolve("mx.acme.test", "A", tcp=True)[0].address == "127.0.0.1"


def test_an_unknown_name_is_nxdomain_and_a_known_name_without_the_type_is_empty(dns_server):
    dns_server.set("acme.test", "MX", "10 mx.acme.test.")
    query = dns.message.make_query("nothing.test", "TXT")
    assert (
        dns.query.udp(query, dns_server.host, port=dns_server.port, timeout=3).rcode() == dns.rcode.NXDOMAIN
    )
    query = dns.message.make_query("acme.test", "TXT")
    answer = dns.query.udp(query, dns_server.host, port=dns_server.port, timeout=3)
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer == []
