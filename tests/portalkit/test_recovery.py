"""Forgotten passwords through the shared login flow: the recovery address (confirmed, outside
the mailbox), "forgot password" (the same answer for every login, rate-limited, audited), the
one-time short-lived link, and the reset that never skips 2FA.

Real PostgreSQL and Redis; the task that sends the link runs eagerly (Celery's own switch) on
commit; email goes to Django's locmem outbox."""

import datetime
import re
import uuid

import pyotp
import pytest
import redis
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from accounts.models import AppPassword, RecoveryAddress, User
from accounts.services import app_password_create
from core.models import AuditEntry
from domains import twofactor
from domains.models import Mailbox
from domains.services import customer_user_create, delegate_create
from domains.services.recovery import (
    recovery_address_confirm,
    recovery_address_set,
    recovery_tokens,
)
from mailsuite.celery import app as celery_app
from tests.factories import (
    MAILBOX_PASSWORD,
    MANAGER_PASSWORD,
    CustomerFactory,
    DomainFactory,
    MailboxFactory,
    ManagerFactory,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Recovered-Pass-2026-x"  # noqa: S105 - test data
ANSWER = "If the account has a confirmed recovery address, we sent a link to it."
LINK_RE = re.compile(r"http://[^\s]+/password/reset/[^\s]+/")


@pytest.fixture(autouse=True)
def recovery_env(settings):
    """Counters under a prefix of this test (removed afterwards), eager tasks, English pages."""
    settings.BRUTEFORCE_KEY_PREFIX = prefix = f"test-{uuid.uuid4().hex[:12]}:bf"
    settings.LANGUAGE_CODE = "en"
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved
    client = redis.Redis.from_url(django_settings.BRUTEFORCE_REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Do `fn`, running what it schedules on commit (the task that sends the link) as in
    production after the request's transaction commits."""

    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def confirmed(mailbox, email: str) -> None:
    mail.outbox.clear()
    row = recovery_address_set(mailbox=mailbox, email=email)
    row.refresh_from_db()
    token = row.pending_email and _confirm_token(mailbox, email)
    assert recovery_address_confirm(token=token) is not None


def _confirm_token(mailbox, email):
    from django.core import signing

    from domains.services.recovery import _CONFIRM_SALT

    return signing.dumps({"u": mailbox.user_id, "e": email}, salt=_CONFIRM_SALT)


def forgot(run, login: str, portal: str = "webmail", ip: str = "192.0.2.10"):
    client = Client(REMOTE_ADDR=ip)
    return run(client.post, f"/{portal}/password/forgot/", {"login": login})


def link_in(message) -> str:
    found = LINK_RE.findall(message.body)
    assert len(found) == 1, message.body
    return found[0].replace(django_settings.PUBLIC_BASE_URL.rstrip("/"), "")


def reset(client: Client, path: str, password: str = NEW_PASSWORD):
    return client.post(path, {"new_password1": password, "new_password2": password})


def body_without_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


# ---- the login pages ------------------------------------------------------------------------


@pytest.mark.parametrize("portal", ["mailadmin", "webmail", "customer", "timemachine", "archive"])
def test_every_portal_login_links_to_forgot_password(portal):
    page = Client().get(f"/{portal}/login/").content.decode()
    assert f'href="/{portal}/password/forgot/"' in page
    assert Client().get(f"/{portal}/password/forgot/").status_code == 200


def test_the_back_office_has_no_forgot_password():
    assert "password/forgot" not in Client().get("/backoffice/login/").content.decode()
    response = Client().get("/backoffice/password/forgot/")  # the admin's catch-all: to the login
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")


# ---- the link: works once, expires, never logs in ---------------------------------------------


def test_mailbox_user_resets_through_the_confirmed_recovery_address_once(run):
    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")
    _app, _token = app_password_create(user=mailbox.user, name="Phone")
    mailbox.user.must_change_password = True
    mailbox.user.save(update_fields=["must_change_password"])
    mail.outbox.clear()

    response = forgot(run, mailbox.address)
    assert response.status_code == 200 and ANSWER in response.content.decode()
    assert [m.to for m in mail.outbox] == [["me@personal.example"]]
    path = link_in(mail.outbox[0])
    assert path.startswith("/webmail/password/reset/")

    browser = Client()
    opened = browser.get(path)  # the token moves into the session, out of the page's URL
    set_password = path.rsplit("/", 2)[0] + "/set-password/"
    assert opened.status_code == 302 and opened["Location"] == set_password
    assert browser.get(set_password).status_code == 200
    weak = browser.post(path, {"new_password1": "abc", "new_password2": "abc"})
    assert weak.status_code == 400  # the same validators as every password change
    done = reset(browser, path)
    assert done.status_code == 302 and done["Location"] == "/webmail/login/?reset=1"
    assert "_auth_user_id" not in browser.session  # never logged in by the link
    user = User.objects.get(pk=mailbox.user_id)
    assert user.check_password(NEW_PASSWORD) and not user.must_change_password
    assert not AppPassword.objects.filter(user=user, revoked_at__isnull=True).exists()
    # once: the same link again is refused, and changes nothing
    assert browser.get(path).status_code == 400
    assert browser.get(set_password).status_code == 400
    assert reset(browser, path, "Another-Pass-2026-y").status_code == 400
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    actions = list(
        AuditEntry.objects.filter(action__startswith="password.recovery.").values_list("action", "target")
    )
    assert sorted(actions) == sorted(
        [
            ("password.recovery.request", mailbox.address),
            ("password.recovery.sent", mailbox.address),
            ("password.recovery.used", mailbox.address),
        ]
    )
    login = Client().post("/webmail/login/", {"login": mailbox.address, "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_the_link_expires_after_the_timeout(run, monkeypatch, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")
    forgot(run, mailbox.address)
    path = link_in(mail.outbox[-1])
    now = datetime.datetime.now()  # noqa: DTZ005 - Django's token clock is naive local time
    monkeypatch.setattr(recovery_tokens, "_now", lambda: now + datetime.timedelta(seconds=3540))
    assert Client().get(path).status_code == 302  # 59 minutes later: still valid
    monkeypatch.setattr(recovery_tokens, "_now", lambda: now + datetime.timedelta(seconds=3660))
    assert Client().get(path).status_code == 400  # 61 minutes later: expired
    assert reset(Client(), path).status_code == 400
    assert User.objects.get(pk=mailbox.user_id).check_password(MAILBOX_PASSWORD)


def test_a_recovery_never_skips_two_factor_authentication(run):
    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")
    device, _uri, _svg = twofactor.totp_enrol_start(mailbox.user)
    totp = pyotp.TOTP(__import__("base64").b32encode(device.bin_key).decode())
    backup = twofactor.totp_enrol_confirm(device, totp.now())
    mail.outbox.clear()
    forgot(run, mailbox.address)
    browser = Client()
    assert reset(browser, link_in(mail.outbox[-1])).status_code == 302
    # the new password alone does not open the webmail: the login asks for the code
    login = browser.post("/webmail/login/", {"login": mailbox.address, "password": NEW_PASSWORD})
    assert login.status_code == 302 and login["Location"] == "/webmail/login/2fa/"
    assert "_auth_user_id" not in browser.session
    assert browser.get("/webmail/settings/").status_code == 302
    # and a backup code still works there
    done = browser.post("/webmail/login/2fa/", {"token": backup[0]})
    assert done.status_code == 302 and done["Location"] == "/webmail/"


# ---- the same answer for every login ----------------------------------------------------------


def test_the_same_answer_whatever_the_login(run):
    without = MailboxFactory()
    pending = MailboxFactory()
    recovery_address_set(mailbox=pending, email="not-yet@personal.example")  # never confirmed
    manager = ManagerFactory()
    delegate = delegate_create(
        manager=manager,
        username="delegate.recovery",
        password=MANAGER_PASSWORD,
        name="Delegate",
        email="delegate@personal.example",
        expires_on=datetime.date(2099, 1, 1),
    )
    suspended = MailboxFactory()
    confirmed(suspended, "susp@personal.example")
    Mailbox.objects.filter(pk=suspended.pk).update(is_active=False)
    staff = User.objects.create_user(username="staff.recovery", password=MANAGER_PASSWORD, is_staff=True)
    mail.outbox.clear()
    answers = []
    for login in (
        "nobody@nowhere.test",
        "no-such-login",
        without.address,
        pending.address,
        delegate.user.username,
        suspended.address,
        staff.username,
    ):
        response = forgot(run, login)
        answers.append((response.status_code, body_without_csrf(response)))
    assert {status for status, _body in answers} == {200}
    assert len({body for _status, body in answers}) == 1
    assert ANSWER in answers[0][1] and "Without one, ask your domain's Postmaster." in answers[0][1]
    assert len(mail.outbox) == 0
    # every request is audited, with the login typed
    assert AuditEntry.objects.filter(action="password.recovery.request").count() == 7
    assert not AuditEntry.objects.filter(action="password.recovery.sent").exists()


def test_requests_are_limited_per_login_and_per_address(run, settings):
    settings.PASSWORD_RECOVERY_LOGIN_LIMIT = 3
    settings.PASSWORD_RECOVERY_IP_LIMIT = 5
    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")
    mail.outbox.clear()
    statuses = [forgot(run, mailbox.address, ip=f"192.0.2.{n}").status_code for n in range(1, 5)]
    assert statuses == [200, 200, 200, 429]  # the login's budget, whatever the address
    assert len(mail.outbox) == 3
    # an unknown login has the same budget: the limit tells nothing either
    unknown = [forgot(run, "ghost@nowhere.test", ip=f"198.51.100.{n}").status_code for n in range(1, 5)]
    assert unknown == [200, 200, 200, 429]
    # one address asking for many logins
    many = [forgot(run, f"someone{n}@nowhere.test", ip="203.0.113.7").status_code for n in range(6)]
    assert many == [200] * 5 + [429]
    assert len(mail.outbox) == 3


# ---- who gets the link ----------------------------------------------------------------------


def test_postmaster_manager_and_customer_user_recover_through_the_legal_representative(run):
    customer = CustomerFactory(legal_rep_email="rep@company.example")
    domain = DomainFactory(customer=customer)
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
    recovery_address_set(mailbox=postmaster, email="pm-own@personal.example")  # not used for it
    manager = ManagerFactory(customer=customer, domains=[domain])
    customer_user = customer_user_create(
        customer=customer, username="cu.recovery", password=MANAGER_PASSWORD, email="cu@company.example"
    )
    mail.outbox.clear()
    forgot(run, postmaster.address, portal="mailadmin")
    forgot(run, manager.user.username, portal="mailadmin")
    forgot(run, customer_user.user.username, portal="customer")
    assert [m.to for m in mail.outbox] == [["rep@company.example"]] * 3
    assert postmaster.address in mail.outbox[0].body
    assert link_in(mail.outbox[0]).startswith("/mailadmin/password/reset/")
    assert link_in(mail.outbox[2]).startswith("/customer/password/reset/")
    # the Manager's link sets the Manager's password, then the control panel's login
    browser = Client()
    assert reset(browser, link_in(mail.outbox[1])).status_code == 302
    manager.user.refresh_from_db()
    assert manager.user.check_password(NEW_PASSWORD)
    response = browser.post("/mailadmin/login/", {"login": manager.user.username, "password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/mailadmin/"
    sent = AuditEntry.objects.filter(action="password.recovery.sent")
    assert {e.customer_id for e in sent} == {customer.pk}


# ---- the recovery address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["{address}", "{upper}", "{local}+tag@{domain}", "{local}@{upper_domain}"],
)
def test_the_recovery_address_is_outside_the_mailbox(email):
    from django.core.exceptions import ValidationError

    mailbox = MailboxFactory()
    value = email.format(
        address=mailbox.address,
        upper=mailbox.address.upper(),
        local=mailbox.local_part,
        domain=mailbox.domain.name,
        upper_domain=mailbox.domain.name.upper(),
    )
    with pytest.raises(ValidationError) as exc:
        recovery_address_set(mailbox=mailbox, email=value)
    assert "outside this mailbox" in str(exc.value)
    assert not RecoveryAddress.objects.filter(user=mailbox.user).exists()


def test_the_recovery_address_counts_once_confirmed_and_a_change_needs_confirming_again(
    run, django_capture_on_commit_callbacks
):
    mailbox = MailboxFactory()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        recovery_address_set(mailbox=mailbox, email="first@personal.example")
    assert [m.to for m in mail.outbox] == [["first@personal.example"]]
    confirm_path = re.search(r"http://\S+/webmail/recovery/confirm/\S+/", mail.outbox[0].body).group(0)
    confirm_path = confirm_path.replace(django_settings.PUBLIC_BASE_URL.rstrip("/"), "")
    # not confirmed yet: no link for a forgotten password
    mail.outbox.clear()
    forgot(run, mailbox.address)
    assert mail.outbox == []
    # opening the link shows a button; the button confirms (no login needed)
    assert Client().get(confirm_path).status_code == 200
    assert RecoveryAddress.objects.get(user=mailbox.user).confirmed_at is None
    assert Client().post(confirm_path).status_code == 200
    row = RecoveryAddress.objects.get(user=mailbox.user)
    assert (row.email, row.pending_email) == ("first@personal.example", "")
    assert Client().post(confirm_path).status_code == 400  # used
    # a change waits for its own confirmation; until then the first address keeps working
    with django_capture_on_commit_callbacks(execute=True):
        recovery_address_set(mailbox=mailbox, email="second@personal.example")
    row.refresh_from_db()
    assert (row.email, row.pending_email) == ("first@personal.example", "second@personal.example")
    mail.outbox.clear()
    forgot(run, mailbox.address)
    assert [m.to for m in mail.outbox] == [["first@personal.example"]]
    assert AuditEntry.objects.filter(action="recovery_address.confirm", target=mailbox.address).count() == 1


def test_a_confirmation_link_of_a_replaced_address_does_not_confirm(django_capture_on_commit_callbacks):
    mailbox = MailboxFactory()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        recovery_address_set(mailbox=mailbox, email="old@personal.example")
        recovery_address_set(mailbox=mailbox, email="new@personal.example")
    old_token = _confirm_token(mailbox, "old@personal.example")
    assert recovery_address_confirm(token=old_token) is None
    assert recovery_address_confirm(token="garbage") is None
    assert RecoveryAddress.objects.get(user=mailbox.user).email == ""


def test_the_request_does_the_same_work_for_a_known_and_an_unknown_login(run):
    """The web request never looks the login up: the same queries (and one task queued) for an
    account with a recovery address and for no account at all. Timing measured in the report."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")

    def shapes(login: str) -> list[str]:
        client = Client(REMOTE_ADDR="192.0.2.99")
        client.get("/webmail/password/forgot/")  # the session and CSRF cookie first
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/webmail/password/forgot/", {"login": login})
        assert response.status_code == 200
        return [re.sub(r"'[^']*'|\b\d+\b|\"s\w+\"", "?", q["sql"]) for q in queries.captured_queries]

    known, unknown = shapes(mailbox.address), shapes("ghost@nowhere.test")
    assert known == unknown
    assert not any("accounts_user" in sql or "domains_mailbox" in sql for sql in known)


def test_the_database_refuses_an_unconfirmed_recovery_address():
    from django.db import IntegrityError, transaction

    mailbox = MailboxFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RecoveryAddress.objects.create(user=mailbox.user, email="x@personal.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        RecoveryAddress.objects.create(user=mailbox.user, pending_email="x@personal.example")


def test_a_link_dies_when_the_recovery_address_changes(run):
    mailbox = MailboxFactory()
    confirmed(mailbox, "me@personal.example")
    forgot(run, mailbox.address)
    path = link_in(mail.outbox[-1])
    confirmed(mailbox, "other@personal.example")
    assert Client().get(path).status_code == 400
    assert reset(Client(), path).status_code == 400
    assert User.objects.get(pk=mailbox.user_id).check_password(MAILBOX_PASSWORD)
