"""The webmail offers the aliases and lists a mailbox receives as From addresses, and only them."""

import email.utils

from domains import services
from domains.models import Mailbox

from .test_compose import fetch, new_compose, wait_for


def mailbox(address: str) -> Mailbox:
    local, domain = address.split("@")
    return Mailbox.objects.get(local_part=local, domain__name=domain)


def test_compose_offers_the_aliases_received_and_sends_as_the_chosen_one(webmail_user):
    alice = webmail_user()
    domain = mailbox(alice.address).domain
    bob = webmail_user(domain=domain)
    services.address_create(
        domain=domain, kind="alias", local_part="sales", targets=[mailbox(alice.address).registry_entry]
    )
    services.address_create(
        domain=domain, kind="alias", local_part="billing", targets=[mailbox(bob.address).registry_entry]
    )
    sales, billing = f"sales@{domain.name}", f"billing@{domain.name}"
    url = new_compose(alice.client)
    # the From choice lists her address first, then the alias she receives; not bob's alias
    page = alice.client.get(url).content.decode()
    choice = page.split('name="from"', 1)[1].split("</select>", 1)[0]
    assert choice.index(alice.address) < choice.index(sales)
    assert billing not in choice
    # when she sends as sales@
    response = alice.client.post(
        url,
        {
            "action": "send",
            "from": sales,
            "to": bob.address,
            "cc": "",
            "bcc": "",
            "subject": "Offer",
            "body": "x",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    uids = wait_for(lambda: bob.uids("INBOX"))
    assert email.utils.parseaddr(fetch(bob, "INBOX", uids[0])["From"])[1] == sales


def test_a_from_the_mailbox_does_not_receive_falls_back_to_its_own_address(webmail_user):
    alice = webmail_user()
    domain = mailbox(alice.address).domain
    bob = webmail_user(domain=domain)
    services.address_create(
        domain=domain, kind="alias", local_part="billing", targets=[mailbox(bob.address).registry_entry]
    )
    url = new_compose(alice.client)
    response = alice.client.post(
        url,
        {
            "action": "send",
            "from": f"billing@{domain.name}",
            "to": bob.address,
            "cc": "",
            "bcc": "",
            "subject": "Hi",
            "body": "x",
        },
    )
    assert response.status_code == 302
    uids = wait_for(lambda: bob.uids("INBOX"))
    assert email.utils.parseaddr(fetch(bob, "INBOX", uids[0])["From"])[1] == alice.address
