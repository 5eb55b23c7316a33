"""Playwright in Debian's Chromium: the control panel's DNS page shows green for a correctly
published test zone and names what is wrong in a broken one, after "Check now" (the real test DNS
server answers). Screenshots at 1280 and 375 px in test-artifacts/screenshots/."""

import pytest

from domains import services
from tests.domains import dnszone
from tests.e2e.test_panel import shot, sign_in
from tests.factories import CustomerFactory, DomainFactory
from tests.panel.conftest import POSTMASTER_PASSWORD, postmaster_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAotherkey" + "Q" * 300


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    yield page
    context.close()


def test_the_dns_page_is_green_for_a_correct_zone_and_names_the_problems_of_a_broken_one(
    page, live_server, dns_server, settings
):
    # given acme.test with its DKIM key (production size) and its zone published as asked
    dnszone.configure(settings)
    settings.DKIM_KEY_BITS = 2048
    domain = DomainFactory(customer=CustomerFactory(), name="acme.test")
    services.dkim_key_first(domain=domain)
    postmaster_of(domain)
    dnszone.publish_correct(dns_server, domain)
    # when the Postmaster opens the DNS page
    sign_in(page, live_server.url, "postmaster@acme.test", POSTMASTER_PASSWORD)
    page.goto(f"{live_server.url}/mailadmin/d/acme.test/dns/")
    # then every record is green
    assert page.locator("[data-dns-summary=ok]").is_visible()
    assert page.locator("tr[data-record]").count() == 6
    assert page.locator("tr[data-record][data-status=present]").count() == 6
    assert page.locator("tr[data-record] .tag-ok").count() == 6
    shot(page, "dns-correct")
    # when the zone breaks and "Check now" is pressed
    dnszone.publish_broken(dns_server, domain, other_public_key=OTHER_KEY)
    page.click("button[name=action][value=check]")
    page.wait_for_load_state()
    # then each record says what is wrong
    assert page.locator("[data-dns-summary=problems]").is_visible()
    statuses = {
        row.get_attribute("data-record").split(":")[0]: row.get_attribute("data-status")
        for row in page.locator("tr[data-record]").all()
    }
    assert statuses == {
        "MX": "wrong",
        "SPF": "wrong",
        "DKIM": "wrong",
        "DMARC": "wrong",
        "AUTOCONFIG": "wrong",
        "AUTODISCOVER": "missing",
    }
    assert "mx.elsewhere.example" in page.locator("tr[data-record=MX] .dns-problem").inner_text()
    assert (
        "autoconfig.oldhost.example" in page.locator("tr[data-record=AUTOCONFIG] .dns-problem").inner_text()
    )
    assert page.locator("tr[data-record] .tag-danger").count() == 5
    shot(page, "dns-broken")
