"""Playwright, issue 15: the account life cycle as the people involved see it, in one browser.

The Postmaster suspends a mailbox in the control panel (the list shows it; the user's open webmail
session ends and IMAP refuses the password, checked with imaplib) and resumes it; a space below
the mailbox's usage is refused with the usage shown; provider staff record an extraordinary
intervention in the back office and the customer's Monitor shows it; the control panel's "forgot
password" answers the same for an unknown login as for the Postmaster's (whose link goes to the
legal representative). Screenshots at 1280 and 375 px (test-artifacts/screenshots/lifecycle-*).
"""

import imaplib

import pytest
from django.core import mail

from domains import services
from domains.models import Mailbox
from mailstore.models import QuotaUsage
from tests.backoffice import enrolled_device, totp_now
from tests.billing.conftest import CUSTOMER_PASSWORD, make_customer_user, price_list  # noqa: F401 - fixtures
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_recovery import recovery_env  # noqa: F401 - fixture
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

POSTMASTER_PASSWORD = "Sole-Verde-Tramonto-2026"  # noqa: S105 - test data
STAFF_PASSWORD = "Staff-Ciclo-Pass-2026"  # noqa: S105 - test data


def shot(page, name: str, *, phone_fits: bool = True) -> None:
    """The current page at 1280 and at 375 px wide; on a phone nothing wider than the screen
    (the Django admin of the back office is not made for phones: phone_fits=False there)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"lifecycle-{name}-{width}.png"), full_page=True)
        if width == 375 and phone_fits:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, url: str, login: str, password: str) -> None:
    page.goto(url)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def imap_accepts(plane, address: str, password: str) -> bool:
    context = plane.ssl_context()
    with imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=context, timeout=15) as imap:
        try:
            return imap.login(address, password)[0] == "OK"
        except imaplib.IMAP4.error:
            return False


@pytest.fixture
def world(price_list, make_customer_user, django_user_model):  # noqa: F811 - fixtures from tests/billing
    customer = CustomerFactory(
        site__voice_channels=1, company_name="Ciclo S.r.l.", legal_rep_email="legale@ciclo.example"
    )
    domain = DomainFactory(customer=customer, name="ciclo.test")
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=postmaster, password=POSTMASTER_PASSWORD, must_change=False)
    user = MailboxFactory(domain=domain, local_part="mario")
    full = MailboxFactory(domain=domain, local_part="pieno", quota_tier=25)
    # Dovecot's quota_clone writes this row; 12 GB of real mail is not for a test. "pieno" never
    # logs in, so nothing rewrites it.
    QuotaUsage.objects.create(username=full.address, bytes=12 * 1024**3, messages=3000)
    make_customer_user(customer, can_configure_mail=True, username="cliente.ciclo")
    staff = django_user_model.objects.create_superuser(
        username="staff.ciclo", password=STAFF_PASSWORD, email="staff@provider.test"
    )
    return {"domain": domain, "user": user, "full": full, "staff": staff}


def test_suspend_resume_quota_intervention_and_forgot_password_in_the_browser(
    browser, live_server, mailplane, recovery_env, world  # noqa: F811 - fixture imported above
):
    base, plane = live_server.url, mailplane
    domain, user, full = world["domain"], world["user"], world["full"]
    address, password = user.address, user.password_plain
    contexts = []

    def new_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
        contexts.append(context)
        return context.new_page()

    try:
        # the user reads their mail in the webmail; the Postmaster opens the control panel
        webmail = new_page()
        sign_in(webmail, f"{base}/webmail/login/", address, password)
        assert webmail.url == f"{base}/webmail/"
        assert imap_accepts(plane, address, password)
        panel = new_page()
        sign_in(panel, f"{base}/mailadmin/login/", "postmaster@ciclo.test", POSTMASTER_PASSWORD)
        assert panel.url == f"{base}/mailadmin/"

        # suspend, mail still delivered (the default)
        panel.goto(f"{base}/mailadmin/d/ciclo.test/m/{user.pk}/")
        assert panel.locator("#suspended-state").count() == 0
        panel.check("#suspension input[name=mail][value=deliver]")
        panel.click("#suspension button[value=suspend]")
        panel.wait_for_load_state()
        assert panel.locator("#suspended-state").is_visible()
        shot(panel, "suspended")
        panel.goto(f"{base}/mailadmin/d/ciclo.test/")
        row = panel.locator("tr", has=panel.locator(f"a:text-is('{address}')"))
        assert row.locator(".tag-warning").inner_text().strip() == "sospesa"
        assert "inactive" in row.get_attribute("class")
        shot(panel, "list-suspended")
        # the open webmail session ended; IMAP refuses the right password
        webmail.goto(f"{base}/webmail/")
        assert webmail.url.startswith(f"{base}/webmail/login/")
        assert not imap_accepts(plane, address, password)

        # resume: IMAP and the webmail take the same password again
        panel.goto(f"{base}/mailadmin/d/ciclo.test/m/{user.pk}/")
        panel.click("#suspension button[value=resume]")
        panel.wait_for_load_state()
        assert panel.locator("#suspended-state").count() == 0
        assert imap_accepts(plane, address, password)
        sign_in(webmail, f"{base}/webmail/login/", address, password)
        assert webmail.url == f"{base}/webmail/"

        # a space below the usage is refused, with the usage on the page
        panel.goto(f"{base}/mailadmin/d/ciclo.test/m/{full.pk}/")
        panel.select_option("#quota-form select[name=quota_tier]", "8")
        panel.click("#quota-form button[type=submit]")
        panel.wait_for_load_state()
        assert "La casella usa già 12,0\xa0GB, più di 8,0\xa0GB." in panel.inner_text("#quota-form")
        shot(panel, "quota-below-usage")
        full.refresh_from_db()
        assert full.quota_tier == 25

        # provider staff record an intervention in the back office (password, then the code)
        staff = new_page()
        device = enrolled_device(world["staff"])
        sign_in(staff, f"{base}/backoffice/login/", "staff.ciclo", STAFF_PASSWORD)
        assert staff.url == f"{base}/backoffice/login/2fa/"
        device.refresh_from_db()
        device.last_t = -1  # enrolment just used this TOTP step's code
        device.save(update_fields=["last_t"])
        staff.fill("input[name=token]", totp_now(device))
        staff.click("main form button[type=submit]")
        staff.wait_for_load_state()
        assert staff.url == f"{base}/backoffice/"
        staff.goto(f"{base}/backoffice/billing/intervention/")
        staff.select_option("select[name=domain]", str(domain.pk))
        staff.fill("input[name=description]", "Caselle spostate dal vecchio fornitore")
        staff.check("input[name=price][value=list]")
        shot(staff, "intervention-form", phone_fits=False)
        staff.click("input[type=submit]")
        staff.wait_for_load_state()
        assert staff.url == f"{base}/backoffice/billing/ledgerevent/"
        # and the customer's Monitor shows it
        monitor = new_page()
        sign_in(monitor, f"{base}/customer/login/", "cliente.ciclo", CUSTOMER_PASSWORD)
        monitor.goto(f"{base}/customer/mail/monitor/")
        cells = monitor.locator("#monitor-domains tr[data-domain='ciclo.test'] td")
        assert (cells.nth(7).inner_text().strip(), cells.nth(9).inner_text().strip()) == ("1", "80,00")
        assert monitor.inner_text("#monitor-total tr[data-key=one_off] td").strip() == "80,00"
        shot(monitor, "monitor-intervention")

        # "forgot password" in the control panel: the same answer for a login that does not exist
        answers = []
        for login in ("nessuno@ciclo.test", "postmaster@ciclo.test"):
            mail.outbox.clear()
            page = new_page()
            page.goto(f"{base}/mailadmin/login/")
            page.click("a[data-forgot-password]")
            page.wait_for_load_state()
            assert page.url == f"{base}/mailadmin/password/forgot/"
            page.fill("input[name=login]", login)
            page.click("main form button[type=submit]")
            page.wait_for_load_state()
            answers.append((page.url, page.inner_text("main")))
            # the Postmaster's link goes to the legal representative; nothing for an unknown login
            sent_to = [m.to for m in mail.outbox]
            assert sent_to == ([] if login.startswith("nessuno") else [["legale@ciclo.example"]])
        shot(page, "forgot-answer")
        assert answers[0] == answers[1]
        assert page.locator("[data-recovery-answer]").count() == 1
    finally:
        for context in contexts:
            context.close()
