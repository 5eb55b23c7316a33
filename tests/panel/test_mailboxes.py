"""Mailbox pages: create, edit, paid changes with their price, delete; bad input changes nothing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AppPassword
from accounts.services import app_password_create
from archiving.models import ArchivePlan
from billing.models import LedgerEvent
from core.models import AuditEntry
from domains.models import Mailbox
from tests.backoffice import enrolled_device, totp_now
from tests.factories import MANAGER_PASSWORD, MailboxFactory
from tests.panel.test_authorization import fingerprint

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def create_url(world):
    return reverse("mailadmin:mailbox_create", args=[world.domain.name])


def test_postmaster_creates_a_mailbox_with_a_typed_password(world, postmaster_client):
    response = postmaster_client.post(
        create_url(world),
        {
            "local_part": "Anna.Rossi",
            "first_name": "Anna",
            "last_name": "Rossi",
            "password": "Anna-Secret-2026",
            "quota_tier": "8",
        },
    )
    assert response.status_code == 200
    mailbox = Mailbox.objects.get(domain=world.domain, local_part="anna.rossi")
    assert (mailbox.first_name, mailbox.last_name, mailbox.quota_tier) == ("Anna", "Rossi", 8)
    assert mailbox.user.check_password("Anna-Secret-2026")
    entry = AuditEntry.objects.filter(action="mailbox.create", target="anna.rossi@acme.test").get()
    assert entry.actor == world.postmaster.user
    assert LedgerEvent.objects.filter(kind="mailbox_created", target="anna.rossi@acme.test").count() == 1


def test_generated_password_is_shown_once_and_works(world, postmaster_client):
    response = postmaster_client.post(
        create_url(world), {"local_part": "gen", "generate_password": "on", "quota_tier": "8"}
    )
    assert response.status_code == 200
    password = response.context["password"]
    assert len(password) == 18
    assert Mailbox.objects.get(local_part="gen", domain=world.domain).user.check_password(password)


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"local_part": "bad..name", "password": "Good-Pass-2026-x", "quota_tier": "8"},
            "local_part",
            "is not a valid mailbox name",
        ),
        (
            {"local_part": "postmaster", "password": "Good-Pass-2026-x", "quota_tier": "8"},
            "local_part",
            "This address already exists.",
        ),
        (
            {"local_part": "ok", "password": "Good-Pass-2026-x", "quota_tier": "12"},
            "quota_tier",
            "Select a valid choice. 12 is not one of the available choices.",
        ),
        (
            {"local_part": "ok", "password": "short", "quota_tier": "8"},
            "password",
            "This password is too short.",
        ),
        ({"local_part": "ok", "quota_tier": "8"}, "password", "Type a password or choose to generate one."),
    ],
    ids=["invalid address", "duplicate", "tier outside the list", "weak password", "no password"],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(world, postmaster_client, data, field, message):
    before = fingerprint()
    response = postmaster_client.post(create_url(world), data, **EN)
    assert response.status_code == 400
    assert any(message in str(e) for e in response.context["form"].errors[field])
    assert message in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert fingerprint() == before


def test_bad_input_message_is_italian_by_default(world, postmaster_client):
    response = postmaster_client.post(
        create_url(world), {"local_part": "postmaster", "password": "Good-Pass-2026-x", "quota_tier": "99"}
    )
    assert response.status_code == 400
    assert "Scegli un&#x27;opzione valida. 99 non è tra quelle disponibili." in response.content.decode()


def test_a_paid_space_tier_shows_its_price_before_confirming(world, postmaster_client):
    # given a mailbox on the standard 8 GB
    mailbox = MailboxFactory(domain=world.domain, local_part="big")
    url = reverse("mailadmin:mailbox_quota", args=[world.domain.name, mailbox.pk])
    before = fingerprint()
    # when 50 GB is asked, the price comes first and nothing changes yet
    response = postmaster_client.post(url, {"quota_tier": "50"}, **EN)
    assert response.status_code == 200
    assert "Space of 50 GB is a paid option." in response.content.decode()
    assert response.context["price"] is not None
    assert fingerprint() == before
    # then confirming changes the tier and writes its billing event
    response = postmaster_client.post(url, {"quota_tier": "50", "confirm": "1"})
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 50
    assert LedgerEvent.objects.filter(kind="quota_changed", target="big@acme.test").count() == 1
    audit = AuditEntry.objects.filter(action="mailbox.update", target="big@acme.test").latest("pk")
    assert (audit.before, audit.after) == ({"quota_tier": 8}, {"quota_tier": 50})
    # and going back down is free: no confirmation step
    assert postmaster_client.post(url, {"quota_tier": "8"}).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 8


def test_a_space_below_the_usage_is_refused_on_the_page_with_the_usage(world, postmaster_client):
    from mailstore.models import QuotaUsage

    mailbox = MailboxFactory(domain=world.domain, local_part="full", quota_tier=25)
    QuotaUsage.objects.create(username="full@acme.test", bytes=12 * 1024**3, messages=10)
    url = reverse("mailadmin:mailbox_quota", args=[world.domain.name, mailbox.pk])
    before = fingerprint()
    response = postmaster_client.post(url, {"quota_tier": "8"})
    assert response.status_code == 400
    assert "La casella usa già 12,0\xa0GB, più di 8,0\xa0GB." in response.content.decode()
    assert fingerprint() == before
    mailbox.refresh_from_db()
    assert mailbox.quota_tier == 25


def test_manager_sets_send_limit_and_archive(world, manager_client):
    mailbox = MailboxFactory(domain=world.domain, local_part="sales")
    name = world.domain.name
    # 1,000 a day is free
    assert (
        manager_client.post(
            reverse("mailadmin:mailbox_send_limit", args=[name, mailbox.pk]), {"send_limit": "1000"}
        ).status_code
        == 302
    )
    # 5,000 a day asks for confirmation first
    url = reverse("mailadmin:mailbox_send_limit", args=[name, mailbox.pk])
    assert manager_client.post(url, {"send_limit": "5000"}).status_code == 200
    mailbox.refresh_from_db()
    assert mailbox.send_limit == 1000
    assert manager_client.post(url, {"send_limit": "5000", "confirm": "1"}).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.send_limit == 5000
    # a limit outside the list is refused
    assert manager_client.post(url, {"send_limit": "3000", "confirm": "1"}).status_code == 400
    mailbox.refresh_from_db()
    assert mailbox.send_limit == 5000
    # archive: price first, then attach with its retention, then remove
    url = reverse("mailadmin:mailbox_archive", args=[name, mailbox.pk])
    assert manager_client.post(url, {"retention_years": "7"}).status_code == 200
    assert not ArchivePlan.objects.filter(mailbox=mailbox).exists()
    assert manager_client.post(url, {"retention_years": "11", "confirm": "1"}).status_code == 400
    assert manager_client.post(url, {"retention_years": "7", "confirm": "1"}).status_code == 302
    plan = ArchivePlan.objects.get(mailbox=mailbox)
    assert (plan.retention_years, plan.created_by) == (7, world.manager.user)
    assert LedgerEvent.objects.filter(kind="archive_attached", target="sales@acme.test").count() == 1
    # removing needs the address typed
    assert manager_client.post(url, {"action": "remove"}).status_code == 400
    wrong = {"action": "remove", "confirm_address": "other@acme.test"}
    assert manager_client.post(url, wrong).status_code == 400
    assert ArchivePlan.objects.filter(mailbox=mailbox).exists()
    right = {"action": "remove", "confirm_address": "Sales@acme.test"}
    assert manager_client.post(url, right).status_code == 302
    assert not ArchivePlan.objects.filter(mailbox=mailbox).exists()
    assert LedgerEvent.objects.filter(kind="archive_removed", target="sales@acme.test").count() == 1


def test_security_actions(world, postmaster_client):
    mailbox = MailboxFactory(domain=world.domain, local_part="sec")
    app_password_create(user=mailbox.user, name="Thunderbird")
    url = reverse("mailadmin:mailbox_security", args=[world.domain.name, mailbox.pk])
    assert postmaster_client.post(url, {"action": "require_2fa"}).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.require_2fa is True
    assert postmaster_client.post(url, {"action": "revoke_app_passwords"}).status_code == 302
    assert AppPassword.objects.get(user=mailbox.user).revoked_at is not None
    assert postmaster_client.post(url, {"action": "nonsense"}).status_code == 400


def test_delete_needs_the_typed_address_and_says_what_is_lost(world, postmaster_client):
    mailbox = MailboxFactory(domain=world.domain, local_part="leaving")
    url = reverse("mailadmin:mailbox_delete", args=[world.domain.name, mailbox.pk])
    page = postmaster_client.get(url, **EN).content.decode()
    assert "This cannot be undone from the control panel. What happens:" in page and "Time Machine" in page
    assert "set aside for 15 days, then deleted for good" in page
    assert "a new mailbox with this address starts empty, at once" in page
    before = fingerprint()
    response = postmaster_client.post(url, {"confirm_address": "leaving@other.test"}, **EN)
    assert response.status_code == 400
    assert "does not match leaving@acme.test" in response.content.decode()
    assert fingerprint() == before
    response = postmaster_client.post(url, {"confirm_address": "Leaving@acme.test"})
    assert response.status_code == 302
    assert not Mailbox.objects.filter(pk=mailbox.pk).exists()


def test_the_postmaster_cannot_be_deleted(world, manager_client):
    url = reverse("mailadmin:mailbox_delete", args=[world.domain.name, world.postmaster.pk])
    before = fingerprint()
    response = manager_client.post(url, {"confirm_address": "postmaster@acme.test"}, **EN)
    assert response.status_code == 400
    assert "The postmaster mailbox cannot be deleted." in response.content.decode()
    assert fingerprint() == before


def test_domain_2fa_switch_is_audited(world, postmaster_client, manager_client):
    url = reverse("mailadmin:domain_security", args=[world.domain.name])
    assert postmaster_client.post(url, {"require_2fa": "on"}).status_code == 302
    world.domain.refresh_from_db()
    assert world.domain.require_2fa is True
    # the postmaster's own session, opened without a second factor, must now log in again (and enrol)
    response = postmaster_client.get(reverse("mailadmin:home"))
    assert response.status_code == 302 and response["Location"].startswith("/mailadmin/login/")
    # so must the Manager's (issue 9: a domain's 2FA rule binds its Manager too)
    audit_url = reverse("mailadmin:audit_log", args=[world.domain.name])
    response = manager_client.get(audit_url)
    assert response.status_code == 302 and response["Location"].startswith("/mailadmin/login/")
    # the Manager logs in with the code and reads the change
    device = enrolled_device(world.manager.user)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    manager_client.post("/mailadmin/login/", {"login": "boss.acme", "password": MANAGER_PASSWORD})
    manager_client.post("/mailadmin/login/2fa/", {"token": totp_now(device)})
    page = manager_client.get(audit_url).content.decode()
    assert "domain.require_2fa" in page and "require_2fa: False" in page and "require_2fa: True" in page


def test_list_query_count_does_not_grow_with_mailboxes(world, postmaster_client):
    url = reverse("mailadmin:mailboxes", args=[world.domain.name]) + "?sort=-quota&q=user"
    for i in range(3):
        MailboxFactory(domain=world.domain, local_part=f"user{i}")
    postmaster_client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert postmaster_client.get(url).status_code == 200
    for i in range(3, 40):
        MailboxFactory(domain=world.domain, local_part=f"user{i}")
    with CaptureQueriesContext(connection) as many:
        response = postmaster_client.get(url)
    assert response.status_code == 200 and len(response.context["rows"]) == 40
    assert len(many.captured_queries) == len(few.captured_queries)


def test_list_search_sort_and_pagination(world, postmaster_client):
    for i in range(55):
        MailboxFactory(domain=world.domain, local_part=f"u{i:02d}", last_name=f"Name{i:02d}")
    url = reverse("mailadmin:mailboxes", args=[world.domain.name])
    page1 = postmaster_client.get(url)
    assert page1.context["page"].paginator.count == 56 and len(page1.context["rows"]) == 50
    page2 = postmaster_client.get(url + "?page=2")
    assert [m.local_part for m in page2.context["rows"]] == ["u49", "u50", "u51", "u52", "u53", "u54"]
    found = postmaster_client.get(url + "?q=name07")
    assert [m.local_part for m in found.context["rows"]] == ["u07"]
    desc = postmaster_client.get(url + "?sort=-address")
    assert desc.context["rows"][0].local_part == "u54"
    # every sort pages through the domain once, in order, page 2 (past the middle) being read from
    # the other end: names with ties, some never logged in (NULL last ascending, first descending)
    now = timezone.now()
    for i in range(55):
        Mailbox.objects.filter(domain=world.domain, local_part=f"u{i:02d}").update(
            first_name=f"F{i % 3}",
            last_name=f"L{i % 5}",
            quota_tier=(8, 25)[i % 2],
            last_login_at=now - timedelta(hours=i % 7) if i % 4 else None,
        )
    mailboxes = list(Mailbox.objects.filter(domain=world.domain))
    never = now + timedelta(days=1)  # NULL: after every time ascending
    by_address = sorted(mailboxes, key=lambda m: m.local_part)
    expected = {
        "name": sorted(mailboxes, key=lambda m: (m.last_name, m.first_name, m.local_part)),
        "-quota": sorted(by_address, key=lambda m: -m.quota_tier),
        "last_login": sorted(mailboxes, key=lambda m: (m.last_login_at or never, m.local_part)),
        "-last_login": sorted(by_address, key=lambda m: m.last_login_at or never, reverse=True),
    }
    for sort, ordered in expected.items():
        seen = []
        for number in (1, 2):
            response = postmaster_client.get(url, {"sort": sort, "page": number})
            assert response.status_code == 200
            seen += [m.local_part for m in response.context["rows"]]
        assert seen == [m.local_part for m in ordered], sort


def test_access_log_and_tracemail_export_csv(world, postmaster_client):
    from accounts.services import access_log_record

    access_log_record(
        login="postmaster@acme.test",
        protocol="imap",
        remote_ip="192.0.2.7",
        tls=True,
        result="failure",
        reason="password",
    )
    access_log_record(
        login="postmaster@other.test",
        protocol="imap",
        remote_ip="192.0.2.8",
        tls=True,
        result="failure",
        reason="password",
    )
    url = reverse("mailadmin:access_log", args=[world.domain.name])
    page = postmaster_client.get(url + "?protocol=imap").content.decode()
    assert "192.0.2.7" in page and "192.0.2.8" not in page
    response = postmaster_client.get(url + "?protocol=imap&format=csv")
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "192.0.2.7" in body and "192.0.2.8" not in body
    response = postmaster_client.get(reverse("mailadmin:tracemail", args=[world.domain.name]) + "?format=csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode().startswith("received,")


def test_the_paid_change_confirmation_never_echoes_the_typed_password(world, postmaster_client):
    # given a new mailbox with a paid space tier and a typed password
    data = {"local_part": "costly", "password": "Costly-Secret-2026", "quota_tier": "25"}
    # when the postmaster submits it, the confirmation page shows the price
    page = postmaster_client.post(create_url(world), data, **EN)
    assert page.status_code == 200
    assert "This change has a cost" in page.content.decode()
    # then the password is not in the page; a one-time token stands for it
    html = page.content.decode()
    assert "Costly-Secret-2026" not in html
    token = page.context["hidden"][-1]
    assert token[0] == "parked_secrets"
    assert not Mailbox.objects.filter(local_part="costly").exists()
    # when the postmaster confirms (the page posts the visible fields and the token back)
    confirm = {name: value for name, value in page.context["hidden"]} | {"confirm": "1"}
    assert postmaster_client.post(create_url(world), confirm).status_code == 200
    # then the mailbox exists with the typed password
    mailbox = Mailbox.objects.get(domain=world.domain, local_part="costly")
    assert (mailbox.quota_tier, mailbox.user.check_password("Costly-Secret-2026")) == (25, True)
    # and the token is single-use: replaying it gives a form error, not a second mailbox
    replay = postmaster_client.post(create_url(world), confirm | {"local_part": "costly2"}, **EN)
    assert replay.status_code in (200, 400)
    assert not Mailbox.objects.filter(local_part="costly2").exists()


def test_a_parked_password_is_bound_to_the_session_that_parked_it(world, postmaster_client):
    from tests.panel.conftest import panel_client

    page = postmaster_client.post(
        create_url(world), {"local_part": "stolen", "password": "Stolen-Secret-2026", "quota_tier": "25"}
    )
    confirm = {name: value for name, value in page.context["hidden"]} | {"confirm": "1"}
    other_session = panel_client(world.postmaster.user)
    other_session.post(create_url(world), confirm)
    assert not Mailbox.objects.filter(local_part="stolen").exists()


def test_postmaster_suspends_and_resumes_a_mailbox_and_the_list_shows_it(world, postmaster_client):
    mailbox = MailboxFactory(domain=world.domain, local_part="away")
    url = reverse("mailadmin:mailbox_suspension", args=[world.domain.name, mailbox.pk])
    # the default choice is stated on the page: mail is still delivered
    page = postmaster_client.get(reverse("mailadmin:mailbox", args=[world.domain.name, mailbox.pk]), **EN)
    assert "delivered to the mailbox (default)" in page.content.decode()
    response = postmaster_client.post(url, {"action": "suspend", "mail": "deliver"})
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.is_active, mailbox.user.is_active, mailbox.receive_while_suspended) == (
        False,
        False,
        True,
    )
    assert mailbox.suspended_at is not None
    listing = postmaster_client.get(reverse("mailadmin:mailboxes", args=[world.domain.name]), **EN)
    assert "suspended" in listing.content.decode()
    detail = postmaster_client.get(reverse("mailadmin:mailbox", args=[world.domain.name, mailbox.pk]), **EN)
    assert "New mail is delivered." in detail.content.decode()
    assert AuditEntry.objects.filter(action="mailbox.suspend", target="away@acme.test").count() == 1
    # a suspended mailbox still counts as a mailbox (billing counts rows, not logins)
    assert Mailbox.objects.filter(domain=world.domain, local_part="away").exists()
    assert postmaster_client.post(url, {"action": "resume"}).status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.is_active, mailbox.user.is_active, mailbox.suspended_at) == (True, True, None)


def test_the_postmaster_mailbox_cannot_be_suspended(world, postmaster_client):
    postmaster = Mailbox.objects.get(domain=world.domain, is_postmaster=True)
    url = reverse("mailadmin:mailbox_suspension", args=[world.domain.name, postmaster.pk])
    before = fingerprint()
    response = postmaster_client.post(url, {"action": "suspend", "mail": "deliver"}, **EN)
    assert response.status_code == 400
    assert "The postmaster mailbox cannot be suspended." in response.content.decode()
    assert fingerprint() == before


def test_sizes_in_the_list_follow_the_language():
    """The list writes sizes as the panel's messages do: "8,0 GB" in Italian, "8.0 GB" in English."""
    from django.utils import translation

    from mailadmin.templatetags.panel import bytes_human

    with translation.override("it"):
        assert bytes_human(8 * 1024**3) == "8,0\xa0GB"
    with translation.override("en"):
        assert bytes_human(8 * 1024**3) == "8.0\xa0GB"
