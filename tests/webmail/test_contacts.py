"""The address book: contacts pages, vCard import (errors per card, bad files refused with a
clear message, a size limit) and export, "add sender to contacts", the domain's directory in
the suggestions (never another domain's, never another user's contacts), "always show remote
images from this sender". Every new URL with four clients: anonymous, another domain's user, a
user of the same customer (another mailbox of the same domain), the owner."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext, ngettext

from domains.models import Mailbox
from tests.webmail.conftest import message
from webmail.models import Contact, TrustedSender

VCF = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Rossi\r\nN:Rossi;Anna;;;\r\n"
    "EMAIL;TYPE=INTERNET:anna@rossi.test\r\n"
    "TEL:+39 02 1234\r\nORG:Rossi S.r.l.;Vendite\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Senza Posta\r\nTEL:123\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Rotto\r\nEMAIL:not-an-address\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Luca Bianchi\r\nEMAIL:luca@bianchi.test\r\n"
    "NOTE:cliente\r\nEND:VCARD\r\n"
)


def it(msgid: str, **values) -> str:
    """A message as the (Italian by default) user reads it, translated or not yet."""
    with translation.override("it"):
        text = gettext(msgid)
    return text % values if values else text


def user_of(webmail_user_obj):
    return get_user_model().objects.get(username=webmail_user_obj.address)


def vcf(content: str | bytes, name="rubrica.vcf"):
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/vcard")


@pytest.fixture
def four(webmail_user):
    """owner, a colleague of the same domain (same customer), another domain's user, anonymous."""
    owner = webmail_user(first_name="Olga", last_name="Owner")
    domain = Mailbox.objects.get(user__username=owner.address).domain
    colleague = webmail_user(domain=domain, first_name="Carla", last_name="Collega")
    stranger = webmail_user(first_name="Sara", last_name="Straniera")
    contact = Contact.objects.create(
        user=user_of(owner), name="Segreto Cliente", address="segreto@cliente.test"
    )
    return owner, colleague, stranger, Client(), contact


def test_contacts_add_edit_delete(webmail_user):
    alice = webmail_user()
    assert alice.client.get("/webmail/contacts/").status_code == 200
    created = alice.client.post("/webmail/contacts/new/", {"name": "Anna", "address": "anna@x.test"})
    assert created.status_code == 302
    contact = Contact.objects.get(user=user_of(alice))
    assert (contact.name, contact.address) == ("Anna", "anna@x.test")
    # the same address again (any case) is refused with a message; a bad address too
    again = alice.client.post("/webmail/contacts/new/", {"name": "A", "address": "ANNA@x.test"})
    assert (
        again.status_code == 400 and it("This address is already in your contacts.") in again.content.decode()
    )
    bad = alice.client.post("/webmail/contacts/new/", {"name": "B", "address": "nope"})
    assert bad.status_code == 400 and Contact.objects.count() == 1
    edited = alice.client.post(
        f"/webmail/contacts/{contact.pk}/", {"name": "Anna Rossi", "address": "anna@x.test", "phone": "12"}
    )
    assert edited.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("Anna Rossi", "12")
    page = alice.client.get("/webmail/contacts/?q=rossi").content.decode()
    assert "Anna Rossi" in page
    assert alice.client.post(f"/webmail/contacts/{contact.pk}/delete/").status_code == 302
    assert not Contact.objects.exists()


def test_vcard_import_reports_each_bad_card_and_export_round_trips(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    Contact.objects.create(user=user_of(alice), name="", address="Luca@Bianchi.test")
    response = alice.client.post("/webmail/contacts/import/", {"file": vcf(VCF)})
    assert response.status_code == 302
    page = alice.client.get("/webmail/contacts/").content.decode()
    # two imported (one new, one updating the existing address), two refused, each said why
    with translation.override("it"):
        summary = ngettext(
            "%(created)s contact added, %(updated)s updated.",
            "%(created)s contacts added, %(updated)s updated.",
            1,
        ) % {"created": 1, "updated": 1}
    assert summary in page
    card2 = it("Card %(n)s", n=2) + " (Senza Posta)"
    card3 = it("Card %(n)s", n=3) + " (Rotto)"
    assert it("%(card)s: no e-mail address; not imported.", card=card2) in page
    assert (
        it(
            "%(card)s: %(address)s is not a valid address; not imported.",
            card=card3,
            address="not-an-address",
        )
        in page
    )
    contacts = {c.address.lower(): c for c in Contact.objects.filter(user=user_of(alice))}
    assert set(contacts) == {"anna@rossi.test", "luca@bianchi.test"}
    assert contacts["anna@rossi.test"].organization == "Rossi S.r.l. Vendite"
    assert contacts["anna@rossi.test"].phone == "+39 02 1234"
    assert contacts["luca@bianchi.test"].name == "Luca Bianchi"
    assert not Contact.objects.filter(user=user_of(bob)).exists()
    # export, then import into bob's book: the same contacts
    exported = alice.client.get("/webmail/contacts/export/")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/vcard")
    assert exported.content.decode().count("BEGIN:VCARD") == 2
    bob.client.post("/webmail/contacts/import/", {"file": vcf(exported.content)})
    assert {
        (c.name, c.address.lower(), c.organization) for c in Contact.objects.filter(user=user_of(bob))
    } == {(c.name, c.address.lower(), c.organization) for c in contacts.values()}


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\x89PNG\r\n\x1a\n binary", "This file is not a vCard (.vcf) address book."),
        (b"Name,Email\nAnna,anna@x.test\n", "This file is not a vCard (.vcf) address book."),
        (b"BEGIN:VCARD\r\nthis is not: valid\r\n", "This file is not a vCard (.vcf) address book."),
        (b"BEGIN:VCARD\r\n" + b"NOTE:" + b"x" * (1024 * 1024) + b"\r\nEND:VCARD\r\n", "too big"),
    ],
)
def test_bad_vcard_file_is_refused_with_a_clear_message(content, expected, webmail_user):
    alice = webmail_user()
    response = alice.client.post("/webmail/contacts/import/", {"file": vcf(content)}, follow=True)
    assert response.status_code == 200
    if expected == "too big":
        expected = it("The file is too big (at most %(mb)s MB).", mb=1)
    assert it(expected) in response.content.decode()
    assert not Contact.objects.exists()


def test_add_sender_to_contacts_from_a_message(webmail_user):
    alice = webmail_user()
    uid = alice.append(message(sender="Marco Verdi <marco@verdi.test>", to=alice.address))
    page = alice.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    assert "data-add-sender" in page
    back = f"/webmail/message/{uid}/?f=INBOX"
    response = alice.client.post(
        "/webmail/contacts/add-sender/", {"address": "marco@verdi.test", "name": "Marco Verdi", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    assert Contact.objects.get(user=user_of(alice)).name == "Marco Verdi"
    assert "data-add-sender" not in alice.client.get(back).content.decode()
    # an outside "next" is not followed
    outside = alice.client.post(
        "/webmail/contacts/add-sender/", {"address": "x@y.test", "next": "https://evil.test/"}
    )
    assert outside["Location"] == "/"


def test_suggestions_come_from_contacts_recipients_and_own_domain_directory_only(four):
    owner, colleague, stranger, _anon, _contact = four
    Contact.objects.create(user=user_of(stranger), name="Carla Esterna", address="carla@esterna.test")
    found = owner.client.get("/webmail/compose/suggest/", {"q": "carla"}).json()["results"]
    assert found == [{"name": "Carla Collega", "address": colleague.address, "source": "directory"}]
    found = owner.client.get("/webmail/compose/suggest/", {"q": "segreto"}).json()["results"]
    assert found == [{"name": "Segreto Cliente", "address": "segreto@cliente.test", "source": "contact"}]
    # the colleague finds the owner in the directory, never the owner's contacts
    assert colleague.client.get("/webmail/compose/suggest/", {"q": "segreto"}).json()["results"] == []
    olga = colleague.client.get("/webmail/compose/suggest/", {"q": "olga"}).json()["results"]
    assert olga == [{"name": "Olga Owner", "address": owner.address, "source": "directory"}]
    # another domain's user finds neither the owner nor the colleague
    assert stranger.client.get("/webmail/compose/suggest/", {"q": "olga"}).json()["results"] == []
    assert stranger.client.get("/webmail/compose/suggest/", {"q": "carla"}).json()["results"] == [
        {"name": "Carla Esterna", "address": "carla@esterna.test", "source": "contact"}
    ]
    # the directory page lists the domain's active mailboxes, not deactivated ones
    Mailbox.objects.filter(user__username=colleague.address).update(is_active=False)
    page = owner.client.get("/webmail/contacts/").content.decode()
    assert owner.address in page and colleague.address not in page and stranger.address not in page


REMOTE = message(
    sender="News <news@shop.test>",
    subject="offerte",
    headers={"Content-Type": "text/html; charset=utf-8"},
    body='<p>Saldi</p><img src="https://cdn.shop.test/banner.png"><script>alert(1)</script>',
)


def test_always_show_images_from_a_sender(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    uid = alice.append(REMOTE)
    bob_uid = bob.append(REMOTE)
    page = alice.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    assert "data-trust-sender" in page
    frame = alice.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"})
    assert "cdn.shop.test" not in frame.content.decode()
    response = alice.client.post(
        "/webmail/images/trust/", {"address": "news@shop.test", "next": f"/webmail/message/{uid}/?f=INBOX"}
    )
    assert response.status_code == 302
    # now shown for alice, through the same sanitiser (no script), with the frame's CSP opened
    frame = alice.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"})
    body = frame.content.decode()
    assert 'src="https://cdn.shop.test/banner.png"' in body and "<script" not in body.split("<body>")[1]
    assert "img-src data: https: http:;" in frame["Content-Security-Policy"]
    assert (
        "data-trust-sender"
        not in alice.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    )
    # never for bob
    assert (
        "cdn.shop.test"
        not in bob.client.get(f"/webmail/message/{bob_uid}/body/", {"f": "INBOX"}).content.decode()
    )
    # and blocked again once removed
    alice.client.post("/webmail/images/untrust/", {"address": "NEWS@shop.test"})
    assert not TrustedSender.objects.exists()
    assert (
        "cdn.shop.test"
        not in alice.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"}).content.decode()
    )


# The authorization matrix -------------------------------------------------------------------


def test_every_contacts_url_with_four_clients(four):
    owner, colleague, stranger, anonymous, contact = four
    pk = contact.pk
    gets = [
        "/webmail/contacts/",
        "/webmail/contacts/new/",
        f"/webmail/contacts/{pk}/",
        "/webmail/contacts/export/",
        "/webmail/compose/suggest/?q=segreto",
    ]
    posts = [
        (f"/webmail/contacts/{pk}/", {"name": "Changed", "address": "changed@x.test"}),
        (f"/webmail/contacts/{pk}/delete/", {}),
        ("/webmail/contacts/new/", {"name": "N", "address": "n@x.test"}),
        ("/webmail/contacts/add-sender/", {"address": "s@x.test", "name": "S"}),
        ("/webmail/contacts/import/", None),
        ("/webmail/images/trust/", {"address": "t@x.test"}),
        ("/webmail/images/untrust/", {"address": "t@x.test"}),
    ]
    # anonymous: the login page everywhere, nothing changes
    for url in gets:
        r = anonymous.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/webmail/login/"), url
    for url, data in posts:
        r = anonymous.post(url, data if data is not None else {"file": vcf(VCF)})
        assert r.status_code == 302 and r["Location"].startswith("/webmail/login/"), url
    assert list(Contact.objects.values_list("name", flat=True)) == ["Segreto Cliente"]
    assert not TrustedSender.objects.exists()
    # the colleague (same domain, same customer) and another domain's user: the owner's contact
    # is a 404, their own pages show nothing of the owner's, their changes touch only their own
    for other in (colleague, stranger):
        assert other.client.get(f"/webmail/contacts/{pk}/").status_code == 404
        assert other.client.post(f"/webmail/contacts/{pk}/", posts[0][1]).status_code == 404
        assert other.client.post(f"/webmail/contacts/{pk}/delete/").status_code == 404
        for url in ("/webmail/contacts/", "/webmail/contacts/export/", "/webmail/compose/suggest/?q=segreto"):
            r = other.client.get(url)
            assert r.status_code == 200 and b"segreto" not in r.content.lower(), url
        other.client.post("/webmail/contacts/import/", {"file": vcf(VCF)})
        other.client.post("/webmail/images/trust/", {"address": "t@x.test"})
    owner_user = user_of(owner)
    contact.refresh_from_db()
    assert (contact.user_id, contact.name, contact.address) == (
        owner_user.pk,
        "Segreto Cliente",
        "segreto@cliente.test",
    )
    assert Contact.objects.filter(user=owner_user).count() == 1
    assert not TrustedSender.objects.filter(user=owner_user).exists()
    # the owner reaches and changes everything
    for url in gets:
        r = owner.client.get(url)
        assert r.status_code == 200, url
    assert b"segreto" in owner.client.get("/webmail/contacts/export/").content.lower()
    for url, data in posts:
        r = owner.client.post(url, data if data is not None else {"file": vcf(VCF)})
        assert r.status_code == 302, (url, r.content[:300])
    assert not Contact.objects.filter(pk=pk).exists()
    assert (
        Contact.objects.filter(
            user=owner_user, address__in=["n@x.test", "s@x.test", "anna@rossi.test"]
        ).count()
        == 3
    )
    assert not TrustedSender.objects.filter(user=owner_user).exists()  # trusted, then untrusted


def test_compose_inline_image_url_with_four_clients(four):
    owner, colleague, stranger, anonymous, _contact = four
    from tests.webmail.test_rich_compose import PNG

    url = owner.client.get("/webmail/compose/")["Location"]
    item = owner.client.post(
        url + "upload/",
        {"file": SimpleUploadedFile("p.png", PNG, content_type="image/png"), "inline": "1"},
        HTTP_ACCEPT="application/json",
    ).json()["attachments"][0]
    path = item["url"].replace("http://testserver", "")
    r = anonymous.get(path)
    assert r.status_code == 302 and r["Location"].startswith("/webmail/login/")
    for other in (colleague, stranger):
        assert other.client.get(path).status_code == 404
    assert owner.client.get(path).content == PNG
