"""Playwright in Debian's Chromium against the live server: the control panel as people use it.
Screenshots at 1280 and 375 px wide go to test-artifacts/screenshots/ (gitignored)."""

import imaplib

import pyotp
import pytest
from PIL import Image

from domains import services
from domains.models import Mailbox
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, ManagerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST_PASSWORD = "Emailed-Pass-2026"  # noqa: S105 - test data
NEW_PASSWORD = "Chosen-Pass-2026-ok"  # noqa: S105 - test data




@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    """The current page at 1280 and at 375 px wide (a phone)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"panel-{name}-{width}.png"), full_page=True)
        if width == 375:  # usable on a phone: nothing wider than the screen
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/mailadmin/login/")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def fresh_domain():
    customer = CustomerFactory(company_name="Browser S.r.l.")
    domain = DomainFactory(customer=customer, name="browser.test")
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=postmaster, password=FIRST_PASSWORD, must_change=True)
    return domain


def test_postmaster_first_login_to_mailbox_lifecycle(page, live_server, mailplane, fresh_domain):
    base = live_server.url
    # first login: the emailed password must be changed
    sign_in(page, base, "postmaster@browser.test", FIRST_PASSWORD)
    assert page.url.endswith("/mailadmin/login/password/")
    shot(page, "forced-password-change")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{base}/mailadmin/"
    shot(page, "home")
    # create a mailbox
    page.click("article.domain-card h2 a")
    page.wait_for_load_state()
    page.click(".toolbar a.btn-primary")
    page.fill("input[name=local_part]", "giulia")
    page.fill("input[name=first_name]", "Giulia")
    page.fill("input[name=last_name]", "Bianchi")
    page.fill("input[name=password]", "Giulia-Pass-2026")
    shot(page, "mailbox-create")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert Mailbox.objects.filter(domain=fresh_domain, local_part="giulia").exists()
    shot(page, "mailbox-created")
    # the new mailbox logs in over IMAP
    with imaplib.IMAP4_SSL(
        mailplane.host, mailplane.ports["imaps"], ssl_context=mailplane.ssl_context()
    ) as imap:
        typ, _ = imap.login("giulia@browser.test", "Giulia-Pass-2026")
        assert typ == "OK"
    # change the space to 25 GB: the price is shown, then confirmed
    page.click(".card a.btn")
    page.wait_for_load_state()
    shot(page, "mailbox-detail")
    page.select_option("#quota-form select[name=quota_tier]", "25")
    page.click("#quota-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".confirm-charge").is_visible()
    shot(page, "confirm-charge")
    page.click(".confirm-charge button[type=submit]")
    page.wait_for_load_state()
    assert Mailbox.objects.get(domain=fresh_domain, local_part="giulia").quota_tier == 25
    # delete it with the typed confirmation
    page.click("a.btn-danger")
    page.wait_for_load_state()
    page.fill("input[name=confirm_address]", "giulia@browser.test")
    shot(page, "mailbox-delete")
    page.click("button.btn-danger")
    page.wait_for_load_state()
    assert not Mailbox.objects.filter(domain=fresh_domain, local_part="giulia").exists()
    shot(page, "mailbox-list")


def test_manager_logo_appears_on_the_webmail_login_page(page, live_server, tmp_path):
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="brand.test")
    ManagerFactory(customer=customer, domains=[domain], username="boss.brand")
    logo = tmp_path / "logo.png"
    Image.new("RGB", (800, 200), (20, 90, 200)).save(logo)
    sign_in(page, live_server.url, "boss.brand", MANAGER_PASSWORD)
    page.goto(f"{live_server.url}/mailadmin/d/brand.test/branding/")
    page.fill("input[name=brand_name]", "Brand S.p.A.")
    page.set_input_files("input[name=brand_logo]", str(logo))
    shot(page, "branding")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/webmail/login/?domain=brand.test")
    image = page.locator("img.brand-logo")
    assert image.is_visible()
    assert page.evaluate("document.querySelector('img.brand-logo').naturalWidth") == 480
    assert "Brand S.p.A." in page.content()
    shot(page, "webmail-login-branded")


def test_mandatory_2fa_forces_enrolment_at_next_login(page, live_server):
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="secure.test")
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=postmaster, password=NEW_PASSWORD, must_change=False)
    base = live_server.url
    sign_in(page, base, "postmaster@secure.test", NEW_PASSWORD)
    page.goto(f"{base}/mailadmin/d/secure.test/security/")
    page.check("input[name=require_2fa]")
    shot(page, "domain-security")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    # the session opened without a second factor no longer opens the panel
    page.goto(f"{base}/mailadmin/")
    assert "/mailadmin/login/" in page.url
    sign_in(page, base, "postmaster@secure.test", NEW_PASSWORD)
    assert page.url.endswith("/mailadmin/login/enrol/")
    assert page.locator(".qr svg").is_visible()
    shot(page, "enrolment")
    secret = page.inner_text("#totp-secret")
    page.fill("input[name=token]", pyotp.TOTP(secret).now())
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#backup-codes li").count() == 10
    shot(page, "backup-codes")
    page.click("button[name=saved]")
    page.wait_for_load_state()
    assert page.url == f"{base}/mailadmin/"
