"""Playwright: a Manager sets up two-factor authentication from My account in the control
panel (QR code and key, a first code, backup codes), and the next login asks for a code."""

import pyotp
import pytest

from tests.e2e.test_panel import shot, sign_in
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, ManagerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    yield page
    context.close()


def test_manager_enrols_2fa_from_my_account_and_the_next_login_asks_for_a_code(page, live_server):
    base = live_server.url
    customer = CustomerFactory(company_name="Browser S.r.l.")
    domain = DomainFactory(customer=customer, name="browser.test")
    ManagerFactory(customer=customer, domains=[domain], username="boss.browser")
    # the Manager logs in with the password (no domain requires 2FA yet) and opens My account
    sign_in(page, base, "boss.browser", MANAGER_PASSWORD)
    assert page.url == f"{base}/mailadmin/"
    page.click("nav.mainnav a[href='/mailadmin/account/']")
    page.wait_for_load_state()
    assert page.url == f"{base}/mailadmin/account/password/"
    page.click("a[href='/mailadmin/account/security/']")
    page.wait_for_load_state()
    # set up: the QR code and the key to type
    page.click("form:has(input[name=op][value=start]) button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text().strip()
    shot(page, "account-2fa-enrol")
    page.fill("input[name=token]", pyotp.TOTP(secret).now())
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    codes = page.locator("#backup-codes li").all_inner_texts()
    assert len(codes) == 10
    shot(page, "account-2fa-backup-codes")
    page.click("text=Li ho salvati")  # "I saved them"
    page.wait_for_load_state()
    assert page.locator("#totp-on").count() == 1
    # sign out; the next login asks for the code, and a backup code works
    page.click("nav.mainnav form button[type=submit]")
    page.wait_for_load_state()
    sign_in(page, base, "boss.browser", MANAGER_PASSWORD)
    assert page.url == f"{base}/mailadmin/login/2fa/"
    page.fill("input[name=token]", codes[0].strip())
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{base}/mailadmin/"
