"""The From addresses the webmail offers: the mailbox's own and every alias or list it receives
(mta.routing.addresses_a_mailbox_may_send_as, the submission server's rule, so the choice never
offers what the server would refuse). The mailbox's own address comes first."""

from mta import routing


def sender_choices(mailbox) -> list[str]:
    sender = routing.sender_for(mailbox.pk)
    if sender is None:
        return [mailbox.address]
    others = sorted(a for a in routing.addresses_a_mailbox_may_send_as(sender) if a != mailbox.address)
    return [mailbox.address, *others]


def chosen_sender(mailbox, posted: str) -> str:
    """The posted From if the mailbox may use it, else its own address."""
    posted = (posted or "").strip().lower()
    if posted and posted != mailbox.address and posted in sender_choices(mailbox):
        return posted
    return mailbox.address
