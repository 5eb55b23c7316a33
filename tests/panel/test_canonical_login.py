"""One canonical login on the web portals (issue 9, item 7): spellings of one address share one
brute-force budget, reach the same account, and are logged under the canonical login."""

import pytest
from django.test import Client

from accounts.models import AccessLogEntry
from tests.panel.conftest import POSTMASTER_PASSWORD

pytestmark = pytest.mark.django_db

ADDRESS = "postmaster@acme.test"
SPELLINGS = [
    "ｐｏｓｔｍａｓｔｅｒ@ａｃｍｅ.ｔｅｓｔ",
    "ｐｏｓｔｍａｓｔｅｒ＠ａｃｍｅ．ｔｅｓｔ",
    "post\u00admaster@ac\u00adme.test",
    "postmaster@acme\u3002test",
    "postmaster@acme\uff61test",
    "post\u200bmaster@ac\u200cme.test",
    "POSTMASTER@ACME.TEST.",
    "PostMaster@Acme.Test",
    "\u2060postmaster@acme.test\u200e",
    "postmaster@acme\uff0etest\u3002",
]


@pytest.mark.parametrize("portal", ["mailadmin", "webmail"])
def test_wrong_passwords_under_ten_spellings_block_the_login(world, portal):
    client = Client()
    # given ten wrong passwords, each under another spelling of the postmaster's address
    for n, spelling in enumerate(SPELLINGS):
        response = client.post(f"/{portal}/login/", {"login": spelling, "password": f"wrong-{n}"})
        assert response.status_code == 400
    # when the right password comes under the plain spelling
    response = client.post(f"/{portal}/login/", {"login": ADDRESS, "password": POSTMASTER_PASSWORD},
                           HTTP_ACCEPT_LANGUAGE="en")
    # then the login is blocked, and every row names the canonical login and the mailbox
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    rows = AccessLogEntry.objects.filter(protocol=portal).order_by("pk")
    user_id = world.postmaster.user_id
    assert [(r.login, r.result, r.user_id) for r in rows] == [
        (ADDRESS, "failure", user_id)] * 10 + [(ADDRESS, "blocked", user_id)]


def test_a_full_width_spelling_with_the_right_password_logs_in(world):
    client = Client()
    response = client.post("/mailadmin/login/", {"login": SPELLINGS[1], "password": POSTMASTER_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/")
    assert client.get("/mailadmin/").status_code == 200
    assert list(AccessLogEntry.objects.values_list("login", "result")) == [(ADDRESS, "success")]
