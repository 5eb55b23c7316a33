"""Folders management, settings (identity, language, password, app passwords, 2FA) and the
vacation reply through Sieve, which really answers."""

import time

import pyotp
from django.test import Client

from accounts.models import AppPassword
from domains.models import Vacation
from tests.webmail.conftest import login, message
from webmail.models import Preferences


def test_folders_create_rename_delete_and_protected(webmail_user):
    user = webmail_user()
    post = lambda **d: user.client.post("/webmail/folders/change/", d)  # noqa: E731
    assert post(op="create", name="Projects").status_code == 302
    assert post(op="create", name="2026", parent="Projects").status_code == 302
    assert post(op="rename", folder="Projects/2026", name="Done").status_code == 302
    with user.imap() as imap:
        names = {n for _f, _s, n in imap.list_folders()}
    assert {"Projects", "Projects/Done"} <= names and "Projects/2026" not in names
    for special in ("INBOX", "Sent", "Drafts", "Trash", "Junk"):
        post(op="delete", folder=special)
        post(op="rename", folder=special, name="Other")
    assert post(op="delete", folder="Projects/Done").status_code == 302
    with user.imap() as imap:
        names = {n for _f, _s, n in imap.list_folders()}
    assert {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Projects"} <= names and "Other" not in names
    assert "Projects/Done" not in names


def test_identity_signature_and_language(webmail_user):
    user = webmail_user()
    response = user.client.post(
        "/webmail/settings/",
        {"display_name": "Alice Rossi", "signature": "Alice\nACME", "language": "en", "page_size": 25},
    )
    assert response.status_code == 302
    prefs = Preferences.objects.get(user__username=user.address)
    assert (prefs.display_name, prefs.signature, prefs.page_size) == ("Alice Rossi", "Alice\nACME", 25)
    page = user.client.get("/webmail/folders/").content.decode()
    assert '<html lang="en">' in page
    compose = user.client.get(user.client.get("/webmail/compose/")["Location"]).content.decode()
    assert "\n-- \nAlice\nACME</textarea>" in compose


def test_password_change_checks_the_current_one(webmail_user):
    user = webmail_user()
    bad = user.client.post(
        "/webmail/settings/password/",
        {"current": "wrong", "new_password1": "A-new-Pass-2026-x", "new_password2": "A-new-Pass-2026-x"},
    )
    assert bad.status_code == 400
    good = user.client.post(
        "/webmail/settings/password/",
        {
            "current": user.password,
            "new_password1": "A-new-Pass-2026-x",
            "new_password2": "A-new-Pass-2026-x",
        },
    )
    assert good.status_code == 302
    assert user.client.get("/webmail/folders/").status_code == 200  # the session survives
    assert (
        Client().post("/webmail/login/", {"login": user.address, "password": "A-new-Pass-2026-x"}).status_code
        == 302
    )


def test_app_password_shown_once_listed_and_revoked(webmail_user):
    user = webmail_user()
    response = user.client.post("/webmail/settings/app-passwords/", {"name": "Phone"})
    page = response.content.decode()
    token = page.split('<code class="token">')[1].split("</code>")[0]
    assert len(token) == 35
    listing = user.client.get("/webmail/settings/app-passwords/").content.decode()
    assert "Phone" in listing and token not in listing
    reserved = user.client.post("/webmail/settings/app-passwords/", {"name": "webmail session x"})
    assert reserved.status_code == 400
    item = AppPassword.objects.get(user__username=user.address, name="Phone")
    assert user.client.post(f"/webmail/settings/app-passwords/{item.pk}/revoke/").status_code == 302
    item.refresh_from_db()
    assert item.revoked_at is not None


def test_two_factor_enrolment_then_login_needs_the_code(webmail_user):
    user = webmail_user()
    user.client.post("/webmail/settings/security/", {"op": "start"})
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=user.address, confirmed=False)
    code = pyotp.TOTP(__import__("base64").b32encode(device.bin_key).decode()).now()
    page = user.client.post("/webmail/settings/security/", {"op": "confirm", "token": code}).content.decode()
    assert page.count("<li><code>") == 10
    # a new login asks for the code
    client = Client()
    response = client.post("/webmail/login/", {"login": user.address, "password": user.password})
    assert response["Location"] == "/webmail/login/2fa/"
    # and it can be removed (the domain does not require it) with the password
    assert (
        user.client.post(
            "/webmail/settings/security/", {"op": "remove", "password": user.password}
        ).status_code
        == 302
    )
    assert not TOTPDevice.objects.filter(user__username=user.address).exists()


def test_vacation_reply_is_sent_by_sieve(webmail_user):
    bob, alice = webmail_user(), webmail_user()
    response = bob.client.post(
        "/webmail/settings/vacation/",
        {"enabled": "on", "subject": "Away", "body": "Back on Monday.", "until": ""},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    # alice writes to bob from the webmail; bob's Sieve answers through our SMTP server
    url = alice.client.get("/webmail/compose/")["Location"]
    alice.client.post(url, {"action": "send", "to": bob.address, "subject": "Hi", "body": "Are you there?"})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not alice.uids("INBOX"):
        time.sleep(0.2)
    uids = alice.uids("INBOX")
    assert len(uids) == 1
    with alice.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        envelope = imap.fetch(uids, ["ENVELOPE"])[uids[0]][b"ENVELOPE"]
    assert envelope.subject == b"Away"
    # turning it off deactivates the script
    assert (
        bob.client.post(
            "/webmail/settings/vacation/", {"subject": "Away", "body": "Back on Monday."}
        ).status_code
        == 302
    )
    assert Vacation.objects.get(mailbox__user__username=bob.address).enabled is False


__all__ = ["login", "message"]


def test_password_change_refuses_a_mismatch_and_the_current_password_on_the_right_field(webmail_user):
    user = webmail_user()
    url = "/webmail/settings/password/"
    typed = {"current": user.password, "new_password1": "A-new-Pass-2026-x", "new_password2": "Other-2026-x"}
    mismatch = user.client.post(url, typed)
    assert mismatch.status_code == 400
    assert list(mismatch.context["form"].errors) == ["new_password2"]
    same = user.client.post(
        url, {"current": user.password, "new_password1": user.password, "new_password2": user.password}
    )
    assert same.status_code == 400
    assert list(same.context["form"].errors) == ["new_password1"]
