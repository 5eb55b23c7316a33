from decimal import Decimal

import pytest

from billing.inclusion import SiteTerms, inclusion_for


def site(profile: str, channels: int) -> SiteTerms:
    return SiteTerms(profile=Decimal(profile), voice_channels=channels)


def test_only_profile_1_0_is_not_eligible():
    result = inclusion_for([site("1.0", 30), site("1.0", 5)])
    assert (result.eligible, result.channels, result.included_mailboxes) == (False, 0, 0)


def test_no_sites_is_not_eligible():
    assert inclusion_for([]).eligible is False


@pytest.mark.parametrize(("profile", "eligible"), [("1.4", False), ("1.5", True), ("2.0", True)])
def test_profile_threshold_is_1_5_inclusive(profile, eligible):
    assert inclusion_for([site(profile, 1)]).eligible is eligible


def test_six_mailboxes_per_channel():
    assert inclusion_for([site("1.5", 7)]).included_mailboxes == 42


def test_61_channels_are_capped_at_360_mailboxes():
    result = inclusion_for([site("2.0", 61)])
    assert (result.channels, result.included_mailboxes) == (60, 360)


def test_two_eligible_sites_add_up_and_ineligible_ones_do_not_count():
    result = inclusion_for([site("1.5", 10), site("2.0", 5), site("1.0", 40)])
    assert (result.channels, result.included_mailboxes) == (15, 90)


def test_cap_applies_to_the_sum_of_sites():
    assert inclusion_for([site("1.5", 40), site("2.0", 40)]).included_mailboxes == 360


def test_eligible_site_with_zero_channels_is_eligible_with_nothing_included():
    result = inclusion_for([site("1.5", 0)])
    assert (result.eligible, result.included_mailboxes) == (True, 0)
