"""Search (the Mailbox and GAL stores) and ResolveRecipients on the real endpoint: requests built
and answers read by libwbxml2-utils, the messages in the real Dovecot."""

from __future__ import annotations

import pytest

from domains.models import AddressKind, Mailbox
from domains.services import address_create
from tests.activesync.phone import F, M, Phone
from tests.factories import DomainFactory
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol

S, A, G, R = "{Search}", "{AirSync}", "{GAL}", "{ResolveRecipients}"
NS = 'xmlns="Search:" xmlns:airsync="AirSync:" xmlns:email="Email:" xmlns:airsyncbase="AirSyncBase:"'


def _mailbox_search(phone: Phone, criteria: str, range_: str = "0-9"):
    answer = phone.command(
        "Search",
        f"<Search {NS}><Store><Name>Mailbox</Name><Query><And>{criteria}</And></Query>"
        "<Options><RebuildResults/><DeepTraversal/>"
        f"<Range>{range_}</Range><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:TruncationSize>512</airsyncbase:TruncationSize></airsyncbase:BodyPreference>"
        "</Options></Store></Search>",
    )
    assert answer.findtext(f"{S}Status") == "1"
    store = answer.find(f"{S}Response/{S}Store")
    assert store.findtext(f"{S}Status") == "1"
    return store


def _subjects(store) -> list[str]:
    return [r.findtext(f"{S}Properties/{M}Subject") for r in store.findall(f"{S}Result")]


def _gal_search(phone: Phone, query: str, range_: str = "0-99"):
    answer = phone.command(
        "Search",
        f'<Search xmlns="Search:"><Store><Name>GAL</Name><Query>{query}</Query>'
        f"<Options><Range>{range_}</Range></Options></Store></Search>",
    )
    store = answer.find(f"{S}Response/{S}Store")
    assert store.findtext(f"{S}Status") == "1"
    return store


def test_mailbox_search_by_word_sender_and_range(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    for i in range(12):
        lmtp_deliver(running_mailplane, address, message("news@example.net", address, subject=f"Weekly {i}"))
    lmtp_deliver(running_mailplane, address, message("alice@partner.example", address, subject="Budget 2027"))
    lmtp_deliver(running_mailplane, address, message("bob@partner.example", address, subject="Lunch"))
    phone = Phone(address, password)
    phone.provision()
    folders = phone.folder_sync()
    inbox = next(a.findtext(f"{F}ServerId") for a in folders.iter(f"{F}Add") if a.findtext(f"{F}Type") == "2")
    in_inbox = f"<airsync:Class>Email</airsync:Class><airsync:CollectionId>{inbox}</airsync:CollectionId>"

    # by a word of the subject: the one message, rendered as Sync renders an Email
    store = _mailbox_search(phone, f"{in_inbox}<FreeText>Budget</FreeText>")
    assert _subjects(store) == ["Budget 2027"]
    assert store.findtext(f"{S}Total") == "1" and store.findtext(f"{S}Range") == "0-0"
    result = store.find(f"{S}Result")
    assert result.findtext(f"{A}CollectionId") == inbox
    assert result.findtext(f"{S}LongId").startswith(f"{inbox}:")
    assert "alice@partner.example" in result.findtext(f"{S}Properties/{M}From")
    assert "hello" in result.findtext(f"{S}Properties/{{AirSyncBase}}Body/{{AirSyncBase}}Data")

    # by the sender
    store = _mailbox_search(phone, f"{in_inbox}<FreeText>bob@partner.example</FreeText>")
    assert _subjects(store) == ["Lunch"]
    store = _mailbox_search(phone, f"{in_inbox}<FreeText>from:partner.example</FreeText>")
    assert sorted(_subjects(store)) == ["Budget 2027", "Lunch"]

    # Range pages the results, newest first, with the Total of all of them
    store = _mailbox_search(phone, f"{in_inbox}<FreeText>Weekly</FreeText>", "0-9")
    assert store.findtext(f"{S}Total") == "12" and store.findtext(f"{S}Range") == "0-9"
    assert _subjects(store) == [f"Weekly {i}" for i in range(11, 1, -1)]
    store = _mailbox_search(phone, f"{in_inbox}<FreeText>Weekly</FreeText>", "10-19")
    assert store.findtext(f"{S}Range") == "10-11" and _subjects(store) == ["Weekly 1", "Weekly 0"]

    # a date range (by day): everything arrived today; nothing before yesterday
    store = _mailbox_search(
        phone,
        f"{in_inbox}<FreeText>Lunch</FreeText><GreaterThan><email:DateReceived/>"
        "<Value>2020-01-01T00:00:00.000Z</Value></GreaterThan>",
    )
    assert _subjects(store) == ["Lunch"]
    store = _mailbox_search(
        phone,
        f"{in_inbox}<FreeText>Lunch</FreeText><LessThan><email:DateReceived/>"
        "<Value>2020-01-01T00:00:00.000Z</Value></LessThan>",
    )
    assert _subjects(store) == [] and store.findtext(f"{S}Total") == "0"

    # without a CollectionId: every folder the device knows
    store = _mailbox_search(phone, "<airsync:Class>Email</airsync:Class><FreeText>Lunch</FreeText>")
    assert _subjects(store) == ["Lunch"]
    # an unknown folder: Store status 4 (the device runs FolderSync)
    answer = phone.command(
        "Search",
        f"<Search {NS}><Store><Name>Mailbox</Name><Query><And>"
        "<airsync:CollectionId>999</airsync:CollectionId>"
        "<FreeText>Lunch</FreeText></And></Query></Store></Search>",
    )
    assert answer.findtext(f"{S}Response/{S}Store/{S}Status") == "4"


def test_gal_and_resolve_recipients_see_only_the_own_domain(running_mailplane, mailbox_factory):
    domain = DomainFactory()
    other = DomainFactory()
    address, password = mailbox_factory(domain=domain, first_name="Anna", last_name="Rossi")
    colleague, _ = mailbox_factory(
        domain=domain, local_part="giulia", first_name="Giulia", last_name="Bianchi"
    )
    mailbox_factory(domain=domain, local_part="gianni", first_name="Gianni", last_name="Verdi")
    outsider, _ = mailbox_factory(domain=other, local_part="giulia", first_name="Giulia", last_name="Bianchi")
    suspended, _ = mailbox_factory(
        domain=domain, local_part="giorgio", first_name="Giorgio", last_name="Neri"
    )
    Mailbox.objects.filter(local_part="giorgio", domain=domain).update(is_active=False)
    sales = Mailbox.objects.get(local_part="gianni", domain=domain)
    address_create(
        domain=domain, kind=AddressKind.ALIAS, local_part="giuridico", targets=[sales.registry_entry]
    )
    outsiders_box = Mailbox.objects.get(local_part="giulia", domain=other)
    address_create(
        domain=other, kind=AddressKind.ALIAS, local_part="gite", targets=[outsiders_box.registry_entry]
    )
    phone = Phone(address, password)
    phone.provision()

    # GAL: the domain's active mailboxes matching the name, never another domain's
    store = _gal_search(phone, "Giulia")
    results = store.findall(f"{S}Result/{S}Properties")
    assert [p.findtext(f"{G}EmailAddress") for p in results] == [colleague]
    entry = results[0]
    assert entry.findtext(f"{G}DisplayName") == "Giulia Bianchi"
    assert (entry.findtext(f"{G}FirstName"), entry.findtext(f"{G}LastName")) == ("Giulia", "Bianchi")
    assert entry.findtext(f"{G}Company") == domain.customer.company_name
    store = _gal_search(phone, "gi")
    found = [p.findtext(f"{G}EmailAddress") for p in store.iter(f"{S}Properties")]
    # the people (by last name), then the domain's aliases; not the other domain's "gite"
    assert found == [colleague, f"gianni@{domain.name}", f"giuridico@{domain.name}"]
    assert outsider not in found and suspended not in found and store.findtext(f"{S}Total") == "3"
    store = _gal_search(phone, "gi", "0-0")
    assert len(store.findall(f"{S}Result")) == 1 and store.findtext(f"{S}Total") == "3"
    assert _gal_search(phone, outsider).findtext(f"{S}Total") == "0"

    # ResolveRecipients: one match resolved, several ambiguous, another domain's unknown
    answer = phone.command(
        "ResolveRecipients",
        f'<ResolveRecipients xmlns="ResolveRecipients:"><To>{colleague}</To><To>gi</To>'
        f"<To>{outsider}</To><Options><MaxAmbiguousRecipients>5</MaxAmbiguousRecipients></Options>"
        "</ResolveRecipients>",
    )
    assert answer.findtext(f"{R}Status") == "1"
    responses = {r.findtext(f"{R}To"): r for r in answer.findall(f"{R}Response")}
    resolved = responses[colleague]
    assert (resolved.findtext(f"{R}Status"), resolved.findtext(f"{R}RecipientCount")) == ("1", "1")
    assert resolved.findtext(f"{R}Recipient/{R}EmailAddress") == colleague
    assert resolved.findtext(f"{R}Recipient/{R}DisplayName") == "Giulia Bianchi"
    assert resolved.findtext(f"{R}Recipient/{R}Type") == "1"
    assert responses["gi"].findtext(f"{R}Status") == "2"
    assert {r.findtext(f"{R}EmailAddress") for r in responses["gi"].findall(f"{R}Recipient")} == {
        colleague,
        f"gianni@{domain.name}",
        f"giuridico@{domain.name}",
    }
    unknown = responses[outsider]
    assert (unknown.findtext(f"{R}Status"), unknown.findtext(f"{R}RecipientCount")) == ("4", "0")
