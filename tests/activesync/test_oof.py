"""Settings Oof on the real endpoint is the webmail's vacation reply: set on the phone, it shows
in the webmail's settings and is the active Sieve script; set in the webmail, the phone reads it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from mailstore.sieve import ManageSieve
from tests.activesync.phone import Phone

pytestmark = pytest.mark.protocol

S = "{Settings}"


def _sieve_scripts(address: str) -> tuple[str, str]:
    """(LISTSCRIPTS, the active script's text) of the mailbox, over ManageSieve."""
    client = ManageSieve(settings.MAIL_BIND, settings.MAIL_PORTS["sieve"])
    try:
        client.login_as(address)
        listing = b"\n".join(client.command(b"LISTSCRIPTS")).decode()
        active = next((line.split('"')[1] for line in listing.splitlines() if "ACTIVE" in line), None)
        script = b"\n".join(client.command(f'GETSCRIPT "{active}"'.encode())).decode() if active else ""
    finally:
        client.close()
    return listing, script


def _local_day(text: str) -> dt.date:
    return timezone.localtime(dt.datetime.fromisoformat(text.replace("Z", "+00:00"))).date()


def _oof_get(phone: Phone):
    answer = phone.command(
        "Settings", '<Settings xmlns="Settings:"><Oof><Get><BodyType>Text</BodyType></Get></Oof></Settings>'
    )
    assert answer.findtext(f"{S}Oof/{S}Status") == "1"
    return answer.find(f"{S}Oof/{S}Get")


def _oof_set(phone: Phone, state: int, body: str, times: str = "") -> str:
    answer = phone.command(
        "Settings",
        f'<Settings xmlns="Settings:"><Oof><Set><OofState>{state}</OofState>{times}'
        f"<OofMessage><AppliesToInternal/><Enabled>1</Enabled><ReplyMessage>{body}</ReplyMessage>"
        "<BodyType>Text</BodyType></OofMessage>"
        f"<OofMessage><AppliesToExternalKnown/><Enabled>1</Enabled><ReplyMessage>{body}</ReplyMessage>"
        "<BodyType>Text</BodyType></OofMessage></Set></Oof></Settings>",
    )
    return answer.findtext(f"{S}Oof/{S}Status")


def test_oof_on_the_phone_is_the_webmail_vacation_and_back(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    phone.provision()
    webmail = Client(REMOTE_ADDR="127.0.0.1")
    assert webmail.post("/webmail/login/", {"login": address, "password": password}).status_code == 302

    # set on the phone: the webmail's settings show it, and it is the active Sieve script
    assert _oof_set(phone, 1, "In ferie fino a lunedi.") == "1"
    form = webmail.get("/webmail/settings/vacation/").context["form"]
    assert form.initial["enabled"] is True and form.initial["body"] == "In ferie fino a lunedi."
    listing, script = _sieve_scripts(address)
    assert "ACTIVE" in listing and "vacation" in script and "In ferie fino a lunedi." in script
    got = _oof_get(phone)
    assert got.findtext(f"{S}OofState") == "1"
    assert got.findtext(f"{S}OofMessage/{S}ReplyMessage") == "In ferie fino a lunedi."
    assert got.findtext(f"{S}OofMessage/{S}Enabled") == "1"

    # time-based: the days go to the script and come back to the phone
    start = timezone.localdate() + dt.timedelta(days=2)
    end = start + dt.timedelta(days=5)
    times = f"<StartTime>{start}T08:00:00.000Z</StartTime><EndTime>{end}T16:00:00.000Z</EndTime>"
    assert _oof_set(phone, 2, "Away next week.", times) == "1"
    _listing, script = _sieve_scripts(address)
    assert f'"ge" "date" "{start}"' in script and f'"le" "date" "{end}"' in script
    got = _oof_get(phone)
    assert got.findtext(f"{S}OofState") == "2"
    assert _local_day(got.findtext(f"{S}StartTime")) == start
    assert _local_day(got.findtext(f"{S}EndTime")) == end
    assert webmail.get("/webmail/settings/vacation/").context["form"].initial["until"] == end

    # turned off on the phone: off in the webmail, no active script
    assert _oof_set(phone, 0, "Away next week.") == "1"
    assert webmail.get("/webmail/settings/vacation/").context["form"].initial["enabled"] is False
    listing, _script = _sieve_scripts(address)
    assert "ACTIVE" not in listing

    # set in the webmail: the phone reads it
    response = webmail.post(
        "/webmail/settings/vacation/", {"enabled": "on", "subject": "Away", "body": "Back soon.", "until": ""}
    )
    assert response.status_code == 302
    got = _oof_get(phone)
    assert got.findtext(f"{S}OofState") == "1"
    assert {m.findtext(f"{S}ReplyMessage") for m in got.findall(f"{S}OofMessage")} == {"Back soon."}

    # enabled without a message: refused, nothing changed
    assert _oof_set(phone, 1, "") == "2"
    assert _oof_get(phone).findtext(f"{S}OofMessage/{S}ReplyMessage") == "Back soon."
