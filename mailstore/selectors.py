"""Reads of the mail store."""

from collections.abc import Iterable

from mailstore.models import QuotaUsage


def quota_usage_for(addresses: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Usage as (bytes, messages) per address, in one query. Addresses Dovecot has not reported
    yet (never logged in nor received mail) are (0, 0). The caller has already scoped the
    addresses to what the acting user may see."""
    wanted = {a.lower() for a in addresses}
    usage = dict.fromkeys(wanted, (0, 0))
    for username, used, messages in QuotaUsage.objects.filter(username__in=wanted).values_list(
        "username", "bytes", "messages"
    ):
        usage[username] = (used, messages)
    return usage
