"""The inclusion rule: how many mailboxes a customer's contract includes.

The mail service is available only to a customer with at least one site whose commercial
profile is 1.5 or higher. Each voice channel of those sites includes 6 mailboxes; the channels
counted are capped at 60 in total, so at most 360 mailboxes are included.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MIN_PROFILE = Decimal("1.5")
MAILBOXES_PER_CHANNEL = 6
MAX_CHANNELS = 60


@dataclass(frozen=True)
class SiteTerms:
    profile: Decimal
    voice_channels: int


@dataclass(frozen=True)
class Inclusion:
    eligible: bool
    channels: int  # eligible channels counted, after the cap
    included_mailboxes: int


def inclusion_for(sites: Iterable[SiteTerms]) -> Inclusion:
    """Apply the rule to a customer's sites (anything with .profile and .voice_channels)."""
    eligible_sites = [s for s in sites if Decimal(s.profile) >= MIN_PROFILE]
    if not eligible_sites:
        return Inclusion(eligible=False, channels=0, included_mailboxes=0)
    channels = min(sum(int(s.voice_channels) for s in eligible_sites), MAX_CHANNELS)
    return Inclusion(eligible=True, channels=channels, included_mailboxes=channels * MAILBOXES_PER_CHANNEL)
