"""Every portal page a person sees, checked with axe-core (npm, installed by scripts/setup.sh --test
into node_modules/) at 375 and 1280 px, in the light and the dark theme: no violation of impact
"serious" or "critical". Each page also uses the one design system (its stylesheet, its header with
the brand), shows no emoji glyph, and fits a 375 px screen. Screenshots of every page, width and
theme go to test-artifacts/accessibility/ (gitignored)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode

from devices.services import device_information_set, device_seen, device_synced, device_wipe_request
from domains import services
from domains.models import Mailbox
from domains.services.recovery import recovery_address_set, recovery_tokens
from tests.billing.conftest import (  # noqa: F401 - fixtures
    CUSTOMER_PASSWORD,
    make_customer_user,
    price_list,
)
from tests.e2e.test_recovery import recovery_env  # noqa: F401 - fixture
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory
from tests.portalkit.test_recovery import _confirm_token
from tests.timemachine.conftest import tm, tm_user  # noqa: F401 - fixtures
from tests.webmail.conftest import WebmailUser, login, message, webmail_plane, wm  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "accessibility"
POSTMASTER_PASSWORD = "Postmaster-Pass-2026-ok"  # noqa: S105 - test data
WIDTHS = (375, 1280)
THEMES = ("light", "dark")
# Emoji and dingbat glyphs that show as empty boxes without an emoji font (icons are SVG now).
EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f300-\U0001faff]")


def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/setup.sh --test (npm ci installs axe-core)")
    return AXE.read_text()


def check_page(page, name: str) -> list[str]:
    """Axe at every width and theme; screenshots; the design system's marks. Returns problems."""
    problems = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        page.emulate_media(color_scheme=theme)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
            page.wait_for_timeout(50)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}-{theme}.png"), full_page=True)
            if page.evaluate("typeof window.axe") == "undefined":
                page.add_script_tag(content=axe_source())
            # The message body is the sender's content in a sandboxed frame without scripts:
            # axe cannot run inside it, and it is not the portal's markup.
            result = page.evaluate(
                """async () => {
                    const r = await axe.run(document, {iframes: false, resultTypes: ['violations']});
                    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3)
                            .map(n => n.target.join(' ') + ' ' + n.failureSummary.replace(/\\s+/g, ' '))
                            .join(' | '));
                }"""
            )
            problems += [f"{name} {width}px {theme}: {v}" for v in result]
            if width == 375:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > 376:
                    problems.append(f"{name} 375px {theme}: the page is {scroll}px wide")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    if not page.locator("link[rel=stylesheet][href*='ds/ds']").count():
        problems.append(f"{name}: not on the design system's stylesheet")
    if not page.locator("header.ds-header .ds-brand").count():
        problems.append(f"{name}: no branded header")
    found = EMOJI.findall(page.inner_text("body"))
    if found:
        problems.append(f"{name}: emoji glyphs {found}")
    return problems


def visit(page, url: str, name: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    return check_page(page, name)


def sign_in(page, url: str, login: str, password: str) -> None:
    page.goto(url)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()[:800]


def branded(domain, name: str):
    return services.domain_set_branding(domain=domain, brand_name=name)


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    yield context
    context.close()


def phones(mailbox) -> None:
    """Two ActiveSync devices as the endpoint records them: one synced, one with a wipe asked."""
    for device_id, kind, model, os_name in [
        ("APPL1234567890", "iPhone", "iPhone15,2", "iOS 18.1"),
        ("androidc1a2b3c4", "Android", "Pixel 8", "Android 15"),
    ]:
        device = device_seen(
            mailbox=mailbox,
            device_id=device_id,
            device_type=kind,
            user_agent=f"{kind}/1.0",
            protocol_version="16.1",
        )
        device_information_set(device=device, model=model, os=os_name, friendly_name=f"{kind} di Maria")
        device_synced(device=device)
    device_wipe_request(device=device, actor=mailbox.user)


def test_login_and_index_pages(browser, context, live_server):
    domain = branded(DomainFactory(name="brand.test"), "Brand S.p.A.")
    page = context.new_page()
    base = live_server.url
    problems = visit(page, f"{base}/", "index")
    for portal in ("mailadmin", "webmail", "customer", "timemachine", "archive"):
        problems += visit(page, f"{base}/{portal}/login/?domain={domain.name}", f"{portal}-login")
        if portal != "customer":  # the customer area belongs to no domain: it has no domain brand
            assert "Brand S.p.A." in page.inner_text("header"), portal
    assert not problems, "\n".join(problems)


def test_keyboard_reaches_the_content_with_a_visible_focus(browser, context, live_server):
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    # when a keyboard user presses Tab, then the first stop is the skip link, shown on screen
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => { const e = document.activeElement, r = e.getBoundingClientRect(), s = getComputedStyle(e);
                   return {cls: e.className, top: r.top, outline: s.outlineStyle, width: s.outlineWidth}; }"""
    )
    assert focused["cls"] == "skip-link" and focused["top"] >= 0, focused
    assert focused["outline"] != "none" and focused["width"] != "0px", focused
    # and Enter on it skips the header: the next Tab lands on the first link of the content
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"


def test_control_panel_pages_for_a_postmaster_and_a_manager(browser, context, live_server, dns_server):
    customer = CustomerFactory(company_name="Pannello S.r.l.")
    domain = branded(DomainFactory(customer=customer, name="pannello.test"), "Pannello")
    ManagerFactory(customer=customer, username="manager.a11y", domains=[domain])
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=postmaster, password=POSTMASTER_PASSWORD, must_change=False)
    # addresses to show: an alias, a list, a forwarder, the catch-all and a domain alias
    target = postmaster.registry_entry
    sales = services.address_create(
        domain=domain, kind="alias", local_part="vendite", targets=[target], description="Ufficio vendite"
    )
    services.address_create(
        domain=domain, kind="list", local_part="tutti", targets=[sales], posting="members"
    )
    services.address_create(
        domain=domain,
        kind="forwarder",
        local_part="inoltro",
        externals=["fuori@example.org"],
        owner=postmaster,
    )
    services.address_create(domain=domain, kind="alias", local_part="", catch_all=True, targets=[target])
    services.domain_alias_create(domain=domain, name="pannello-alias.test")
    # a mailbox whose outgoing mail is held, with two phones (one to be wiped)
    held = MailboxFactory(domain=domain, local_part="tenuta")
    services.mailbox_sending_hold(
        mailbox_id=held.pk, reason="spam score 14.2", score=14.2, symbols=["BAYES_SPAM"], subject="Offerta"
    )
    phones(held)
    base, d = live_server.url, f"{live_server.url}/mailadmin/d/{domain.name}"
    page = context.new_page()
    problems = []

    sign_in(page, f"{base}/mailadmin/login/", postmaster.address, POSTMASTER_PASSWORD)
    for path, name in [
        (f"{base}/mailadmin/", "panel-home"),
        (f"{d}/", "panel-mailboxes"),
        (f"{d}/new/", "panel-mailbox-create"),
        (f"{d}/m/{postmaster.pk}/", "panel-mailbox"),
        (f"{d}/m/{held.pk}/", "panel-mailbox-held-with-devices"),
        (f"{d}/security/", "panel-domain-security"),
        (f"{d}/dns/", "panel-domain-dns"),
        (f"{d}/tracemail/", "panel-tracemail"),
        (f"{d}/access-log/", "panel-access-log"),
        (f"{d}/audit/", "panel-audit"),
        (f"{d}/restores/", "panel-restores"),
        (f"{d}/deleted-mailboxes/", "panel-deleted-mailboxes"),
        (f"{d}/addresses/", "panel-addresses"),
        (f"{d}/addresses/new/?kind=list", "panel-address-create"),
        (f"{d}/addresses/{sales.pk}/", "panel-address-edit"),
        (f"{d}/addresses/{sales.pk}/delete/", "panel-address-delete"),
        (f"{base}/mailadmin/account/", "panel-account"),
        (f"{base}/mailadmin/account/password/", "panel-account-password"),
        (f"{base}/mailadmin/account/security/", "panel-account-security"),
    ]:
        problems += visit(page, path, name)
    assert "Pannello" in page.inner_text("header")  # the domain's brand in the header
    context.clear_cookies()

    sign_in(page, f"{base}/mailadmin/login/", "manager.a11y", MANAGER_PASSWORD)
    for path, name in [
        (f"{base}/mailadmin/", "panel-manager-home"),
        (f"{d}/branding/", "panel-branding"),
        (f"{base}/mailadmin/delegates/", "panel-delegates"),
        (f"{base}/mailadmin/delegates/new/", "panel-delegate-create"),
    ]:
        problems += visit(page, path, name)
    assert not problems, "\n".join(problems)


def test_webmail_pages(browser, context, live_server, wm, mailbox_factory):  # noqa: F811
    address, password = mailbox_factory()
    user = WebmailUser(client=login(address, password), address=address, password=password)
    user.append(
        message(
            to=address,
            subject="Accessibile",
            headers={"Content-Type": "text/html; charset=utf-8"},
            body="<p>Ciao <b>mondo</b></p>",
        ),
        flags=(r"\Flagged",),
    )
    uid = user.append(message(to=address, subject="Testo semplice", body="Riga uno\nriga due"))
    remote = user.append(
        message(
            to=address,
            subject="Immagini remote",
            headers={"Content-Type": "text/html; charset=utf-8"},
            body='<p>Novità</p><img src="https://cdn.example.test/banner.png">',
        )
    )
    from django.contrib.auth import get_user_model

    from webmail.contacts import contact_create

    contact = contact_create(
        user=get_user_model().objects.get(username=address), name="Anna Rossi", address="anna@rossi.test"
    )
    phones(Mailbox.objects.get(local_part=address.split("@")[0], domain__name=address.split("@")[1]))
    base = live_server.url
    page = context.new_page()
    sign_in(page, f"{base}/webmail/login/", address, password)
    problems = []
    for path, name in [
        (f"{base}/webmail/mail/?f=INBOX", "webmail-list"),
        (f"{base}/webmail/message/{uid}/?f=INBOX", "webmail-message"),
        (f"{base}/webmail/message/{remote}/?f=INBOX", "webmail-message-remote-images"),
        (f"{base}/webmail/contacts/", "webmail-contacts"),
        (f"{base}/webmail/contacts/new/", "webmail-contact-new"),
        (f"{base}/webmail/contacts/{contact.pk}/", "webmail-contact-edit"),
        (f"{base}/webmail/thread/{uid}/?f=INBOX", "webmail-thread"),
        (f"{base}/webmail/compose/", "webmail-compose"),
        (f"{base}/webmail/folders/", "webmail-folders"),
        (f"{base}/webmail/settings/", "webmail-settings"),
        (f"{base}/webmail/settings/password/", "webmail-settings-password"),
        (f"{base}/webmail/settings/export/", "webmail-settings-export"),
        (f"{base}/webmail/settings/security/", "webmail-settings-security"),
        (f"{base}/webmail/settings/app-passwords/", "webmail-settings-app-passwords"),
        (f"{base}/webmail/settings/vacation/", "webmail-settings-vacation"),
        (f"{base}/webmail/settings/devices/", "webmail-settings-devices"),
    ]:
        problems += visit(page, path, name)
    # the list with a message open in the reading pane (wide screens)
    page.goto(f"{base}/webmail/")
    page.click(".wm-row a.subject")
    page.wait_for_selector(".wm-pane .wm-message")
    problems += check_page(page, "webmail-list-pane")
    assert not problems, "\n".join(problems)


def test_password_recovery_pages(browser, context, live_server, recovery_env):  # noqa: F811
    """Forgot password (form and answer), the reset page (valid and spent link), the recovery
    address's confirmation page and the webmail's settings page for it."""
    domain = branded(DomainFactory(name="ricorda-a11y.test"), "Ricorda S.p.A.")
    mailbox = MailboxFactory(domain=domain)
    recovery_address_set(mailbox=mailbox, email="a11y@personale.example")
    base = live_server.url
    page = context.new_page()
    problems = []
    for portal in ("mailadmin", "webmail", "customer"):
        problems += visit(page, f"{base}/{portal}/password/forgot/?domain={domain.name}", f"{portal}-forgot")
    page.fill("input[name=login]", "nessuno@nowhere.test")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    problems += check_page(page, "recovery-answer")
    confirm = f"{base}/webmail/recovery/confirm/{_confirm_token(mailbox, 'a11y@personale.example')}/"
    problems += visit(page, confirm, "recovery-confirm")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    problems += check_page(page, "recovery-confirmed")
    uidb64 = urlsafe_base64_encode(str(mailbox.user_id).encode())
    token = recovery_tokens.make_token(mailbox.user)
    problems += visit(page, f"{base}/webmail/password/reset/{uidb64}/{token}/", "recovery-reset")
    page.goto(f"{base}/webmail/password/reset/{uidb64}/spent-token/")  # answers 400
    page.wait_for_load_state("networkidle")
    problems += check_page(page, "recovery-reset-invalid")
    sign_in(page, f"{base}/webmail/login/", mailbox.address, mailbox.password_plain)
    problems += visit(page, f"{base}/webmail/settings/recovery/", "webmail-settings-recovery")


def test_timemachine_pages(browser, context, live_server, tm_user):  # noqa: F811
    user = tm_user(log_in=False)
    branded(user.mailbox.domain, "Macchina S.r.l.")
    user.append(
        message(
            to=user.address,
            subject="Accessibile",
            headers={"Content-Type": "text/html; charset=utf-8"},
            body="<p>Ciao <b>mondo</b></p>",
        ),
        flags=(r"\Flagged",),
    )
    user.append(message(to=user.address, subject="Testo semplice", body="Riga uno\nriga due"))
    earlier = timezone.localdate() - datetime.timedelta(days=1)
    user.snapshot(earlier)
    user.snapshot()
    base = live_server.url
    page = context.new_page()
    sign_in(page, f"{base}/timemachine/login/", user.address, user.password)
    problems = []
    for path, name in [
        (f"{base}/timemachine/", "timemachine-days"),
        (f"{base}/timemachine/d/{earlier}/?f=INBOX", "timemachine-list"),
        (f"{base}/timemachine/d/{earlier}/message/1/?f=INBOX", "timemachine-message-html"),
        (f"{base}/timemachine/d/{earlier}/message/2/?f=INBOX", "timemachine-message"),
    ]:
        problems += visit(page, path, name)
    assert "Macchina S.r.l." in page.inner_text("header")
    assert not problems, "\n".join(problems)


def test_customer_monitor(browser, context, live_server, price_list, make_customer_user):  # noqa: F811
    customer = CustomerFactory(site__voice_channels=1, company_name="Monitor A11y S.r.l.")
    DomainFactory(customer=customer, name="monitor-a11y.test")
    make_customer_user(customer, can_configure_mail=True, username="monitor.a11y")
    base = live_server.url
    page = context.new_page()
    sign_in(page, f"{base}/customer/login/", "monitor.a11y", CUSTOMER_PASSWORD)
    problems = visit(page, f"{base}/customer/", "customer-home")
    problems += visit(page, f"{base}/customer/mail/monitor/", "customer-monitor")
    assert not problems, "\n".join(problems)


def test_archive_pages_for_a_delegate_and_the_owner(browser, context, live_server, settings, tmp_path):
    """The Archive portal: a Delegate's forced enrolment, years, list, search, message (full and
        headers only), the owner's "who read my archive", and the Manager's pages of archive reads and
    of the archives of deleted mailboxes."""
    import datetime as dt

    import pyotp
    from django.utils import timezone

    from archiving.indexing import archive_index_pending
    from archiving.services import archive_attach
    from tests.archive.conftest import journal, raw
    from tests.factories import MAILBOX_PASSWORD, MailboxFactory

    settings.ARCHIVE_BLOB_DIR = tmp_path / "archive"
    customer = CustomerFactory()
    domain = branded(DomainFactory(customer=customer, name="arch.test"), "Arch S.r.l.")
    manager = ManagerFactory(customer=customer, domains=[domain], username="boss.arch")
    owner = MailboxFactory(domain=domain, local_part="ceo")
    archive = archive_attach(mailbox=owner, retention_years=10).archive
    entry = journal(owner, raw("Budget 2025", date="Tue, 10 Jun 2025 10:00:00 +0200", attachment=True))
    reply = raw("Re: budget", date="Wed, 11 Jun 2025 10:00:00 +0200", sender="ceo@arch.test")
    journal(owner, reply, sent=True)
    archive_index_pending()
    password = "Delegate-Pass-2026-x"  # noqa: S105 - test data
    expires = timezone.localdate() + dt.timedelta(days=30)
    for username, access in (("ada.full", "full"), ("bob.headers", "headers")):
        services.delegate_create(
            manager=manager,
            username=username,
            password=password,
            name=username,
            email=f"{username}@x.test",
            expires_on=expires,
            grants=[(owner, access)],
        )
    base, a = live_server.url, archive.pk
    page = context.new_page()
    page.goto(f"{base}/archive/login/")
    page.fill("input[name=login]", "ada.full")
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    problems = check_page(page, "archive-enrol")
    page.fill("input[name=token]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("main button[type=submit]")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/archive/a/{a}/")
    problems += check_page(page, "archive-years")
    problems += visit(page, f"{base}/archive/a/{a}/2025/received/", "archive-list")
    problems += visit(page, f"{base}/archive/a/{a}/search/?q=budget&attachment=yes", "archive-search")
    problems += visit(page, f"{base}/archive/a/{a}/m/{entry.pk}/", "archive-message")

    headers = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    hpage = headers.new_page()
    hpage.goto(f"{base}/archive/login/")
    hpage.fill("input[name=login]", "bob.headers")
    hpage.fill("input[name=password]", password)
    hpage.click("main button[type=submit]")
    hpage.fill("input[name=token]", pyotp.TOTP(hpage.inner_text("#totp-secret").strip()).now())
    hpage.click("main button[type=submit]")
    hpage.click("main button[type=submit]")
    hpage.wait_for_url(f"**/archive/a/{a}/")
    problems += visit(hpage, f"{base}/archive/a/{a}/m/{entry.pk}/", "archive-message-headers-only")
    headers.close()

    mine = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    opage = mine.new_page()
    sign_in(opage, f"{base}/archive/login/", owner.address, MAILBOX_PASSWORD)
    problems += visit(opage, f"{base}/archive/a/{a}/readers/", "archive-readers")
    mine.close()

    panel = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    ppage = panel.new_page()
    sign_in(ppage, f"{base}/mailadmin/login/", "boss.arch", MANAGER_PASSWORD)
    problems += visit(ppage, f"{base}/mailadmin/d/arch.test/archive-reads/", "panel-archive-reads")
    services.mailbox_delete(mailbox=owner)  # its archive outlives it: listed for the Manager
    problems += visit(ppage, f"{base}/mailadmin/d/arch.test/deleted-archives/", "panel-deleted-archives")
    panel.close()
    assert not problems, "\n".join(problems)
