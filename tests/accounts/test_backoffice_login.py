"""The back office (/backoffice/, provider staff) logs in like the other portals: password,
then 2FA (enrolment first if staff has no authenticator yet), brute-force blocking, access-log
rows with protocol "backoffice". No admin page answers before the second factor.

The login posts carry both the admin's old field name (`username`) and the portal's (`login`):
before the fix Django's own admin login took the password alone, and these tests failed."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccessLogEntry
from portalkit.session import PORTALS_KEY
from tests.backoffice import backoffice_client, enrolled_device, totp_now

pytestmark = pytest.mark.django_db

User = get_user_model()
STAFF_PASSWORD = "Staff-Pass-2026-x"  # noqa: S105 - test data
ADMIN_PAGES = [
    "/backoffice/",
    "/backoffice/domains/domain/",
    "/backoffice/domains/domain/add/",
    "/backoffice/accounts/user/",
    "/backoffice/password_change/",
]


@pytest.fixture
def staff():
    return User.objects.create_superuser("staff", "staff@provider.test", STAFF_PASSWORD)


def password_step(client: Client, login: str, password: str, next_url: str = ""):
    url = "/backoffice/login/" + (f"?next={next_url}" if next_url else "")
    data = {"username": login, "login": login, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(url, data)


def locked_out(client: Client) -> bool:
    """Every admin page sends the client to the login page."""
    for page in ADMIN_PAGES:
        response = client.get(page)
        if response.status_code != 302 or not response["Location"].startswith("/backoffice/login/"):
            return False
    return True


def log_rows(login: str) -> list[tuple[str, str, str]]:
    return list(
        AccessLogEntry.objects.filter(login=login).order_by("pk").values_list("protocol", "result", "reason")
    )


def test_staff_password_alone_without_a_device_leads_to_enrolment_not_to_the_admin(staff):
    client = Client()
    # when staff without an authenticator gives the right password
    response = password_step(client, "staff", STAFF_PASSWORD)
    # then they are taken to the enrolment, and no admin page answers
    assert (response.status_code, response["Location"]) == (302, "/backoffice/login/enrol/")
    assert locked_out(client)


def test_staff_password_alone_with_a_device_asks_for_the_code(staff):
    enrolled_device(staff)
    client = Client()
    response = password_step(client, "staff", STAFF_PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/backoffice/login/2fa/")
    assert locked_out(client)
    # a wrong code does not let them in either
    assert client.post("/backoffice/login/2fa/", {"token": "000000"}).status_code == 400
    assert locked_out(client)


def test_staff_with_the_code_reaches_the_admin(staff):
    client = backoffice_client(staff, STAFF_PASSWORD)
    for page in ADMIN_PAGES:
        assert client.get(page).status_code == 200, page
    assert log_rows("staff") == [("backoffice", "success", "password"), ("backoffice", "success", "totp")]


def test_a_backup_code_works_once(staff):
    enrolled_device(staff)
    code = StaticToken.objects.filter(device__user=staff).first().token
    client = Client()
    password_step(client, "staff", STAFF_PASSWORD)
    response = client.post("/backoffice/login/2fa/", {"token": code})
    assert (response.status_code, response["Location"]) == (302, "/backoffice/")
    assert client.get("/backoffice/").status_code == 200
    # the same code again, in another browser
    other = Client()
    password_step(other, "staff", STAFF_PASSWORD)
    assert other.post("/backoffice/login/2fa/", {"token": code}).status_code == 400
    assert locked_out(other)


def test_first_login_enrols_then_reaches_the_page_asked_for(staff):
    client = Client()
    response = password_step(client, "staff", STAFF_PASSWORD, next_url="/backoffice/domains/domain/")
    assert response["Location"] == "/backoffice/login/enrol/"
    page = client.get("/backoffice/login/enrol/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    page = client.post("/backoffice/login/enrol/", {"token": totp_now(device)})
    assert page.status_code == 200 and len(page.context["backup_codes"]) == 10
    assert locked_out(client)  # not before "I saved my codes"
    response = client.post("/backoffice/login/enrol/", {"saved": "1"})
    assert (response.status_code, response["Location"]) == (302, "/backoffice/domains/domain/")
    assert client.get("/backoffice/domains/domain/").status_code == 200
    assert log_rows("staff")[-1] == ("backoffice", "success", "totp enrolment")


def test_next_to_another_host_is_ignored(staff):
    client = Client()
    response = password_step(client, "staff", STAFF_PASSWORD, next_url="https://evil.example/")
    assert response["Location"] == "/backoffice/login/enrol/"
    client.get("/backoffice/login/enrol/")
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    client.post("/backoffice/login/enrol/", {"token": totp_now(device)})
    response = client.post("/backoffice/login/enrol/", {"saved": "1"})
    assert response["Location"] == "/backoffice/"


def test_a_session_opened_without_the_second_factor_is_not_accepted(staff):
    # a session logged in by other means (an older admin login, a session of another portal)
    client = Client()
    client.force_login(staff)
    assert locked_out(client)
    # even one that claims the back office, but without a verified device
    session = client.session
    session[PORTALS_KEY] = ["backoffice"]
    session.save()
    assert locked_out(client)


def test_a_2fa_reset_ends_the_staff_session_at_the_next_request(staff):
    from domains.twofactor import totp_reset

    client = backoffice_client(staff, STAFF_PASSWORD)
    assert client.get("/backoffice/").status_code == 200
    totp_reset(staff, actor=None)
    assert locked_out(client)


def test_wrong_passwords_get_the_login_blocked_even_with_the_right_one_after(staff, settings):
    settings.BRUTEFORCE_LOGIN_FAILURES = 3
    enrolled_device(staff)
    client = Client()
    for _ in range(3):
        assert password_step(client, "staff", f"wrong-{_}").status_code in (200, 400)
    # when the right password comes after the threshold
    response = password_step(client, "staff", STAFF_PASSWORD)
    # then it is refused as blocked and no second step starts
    assert response.status_code == 429
    assert client.get("/backoffice/login/2fa/")["Location"] == "/backoffice/login/"
    assert locked_out(client)
    assert log_rows("staff") == [("backoffice", "failure", "password")] * 3 + [
        ("backoffice", "blocked", "login")
    ]


def test_wrong_password_and_wrong_code_are_logged(staff):
    enrolled_device(staff)
    client = Client()
    password_step(client, "staff", "wrong")
    password_step(client, "staff", STAFF_PASSWORD)
    client.post("/backoffice/login/2fa/", {"token": "000000"})
    assert log_rows("staff") == [
        ("backoffice", "failure", "password"),
        ("backoffice", "success", "password"),
        ("backoffice", "failure", "totp"),
    ]


@pytest.mark.parametrize("kind", ["mailbox", "manager", "customer"])
def test_a_login_that_is_not_staff_cannot_enter(kind):
    User.objects.create_user(f"someone.{kind}", password=STAFF_PASSWORD, kind=kind)
    client = Client()
    response = password_step(client, f"someone.{kind}", STAFF_PASSWORD)
    assert response.status_code == 403
    assert locked_out(client)
    assert log_rows(f"someone.{kind}") == [("backoffice", "failure", "no access")]


def test_logout_ends_the_back_office_session(staff):
    client = backoffice_client(staff, STAFF_PASSWORD)
    response = client.post("/backoffice/logout/")
    assert response.status_code == 302
    assert locked_out(client)


def test_no_password_reset_view_is_exposed():
    for url in ("/backoffice/password_reset/", "/backoffice/password_reset/done/"):
        response = Client().get(url)
        assert response.status_code in (302, 404), url
        if response.status_code == 302:
            assert response["Location"].startswith("/backoffice/login/")


def test_demo_admin_first_login_goes_to_enrolment_then_in(settings):
    # given `make run`'s demo data (development mode: demo_data refuses to run with DEBUG off)
    settings.DEBUG = True
    call_command("demo_data", stdout=io.StringIO())
    client = Client()
    # when the demo `admin` logs in for the first time
    response = password_step(client, "admin", "Demo-Password-2026")
    # then enrolment, and after it the back office
    assert (response.status_code, response["Location"]) == (302, "/backoffice/login/enrol/")
    client.get("/backoffice/login/enrol/")
    device = TOTPDevice.objects.get(user__username="admin", confirmed=False)
    assert client.post("/backoffice/login/enrol/", {"token": totp_now(device)}).status_code == 200
    client.post("/backoffice/login/enrol/", {"saved": "1"})
    assert client.get("/backoffice/").status_code == 200
