"""A generated password passes the validators for the login it is made for: the CI once failed a
domain registration because a random draw was "too similar" to postmaster@both.test."""

import itertools

import pytest
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError

from domains.services import common

# The draw that failed in CI: quick_ratio against "postmaster" is 0.714 (>= 0.7).
FAILED_DRAW = "PyKASMsJRT1OetnpGy"
GOOD_DRAW = "Zx7Qw9Lk3Vb8Nc2Hj4"


def test_the_failed_draw_is_really_refused_for_the_postmaster_login():
    login = get_user_model()(username="postmaster@both.test", email="postmaster@both.test")
    with pytest.raises(ValidationError) as refused:
        password_validation.validate_password(FAILED_DRAW, user=login)
    assert [e.code for e in refused.value.error_list] == ["password_too_similar"]


def test_a_draw_refused_by_the_similarity_validator_is_drawn_again(monkeypatch):
    letters = itertools.chain(FAILED_DRAW, GOOD_DRAW)
    monkeypatch.setattr(common.secrets, "choice", lambda alphabet: next(letters))
    password = common.generate_password(login="postmaster@both.test", names=("Postmaster",))
    assert password == GOOD_DRAW


@pytest.mark.django_db
def test_registering_a_domain_survives_the_failed_draw(monkeypatch):
    from tests.factories import DomainFactory

    letters = itertools.chain(FAILED_DRAW, GOOD_DRAW)
    real_choice = common.secrets.choice
    # Only the two scripted draws; anything else registering draws (tokens) gets real randomness.
    monkeypatch.setattr(
        common.secrets, "choice", lambda alphabet: next(letters, None) or real_choice(alphabet)
    )
    domain = DomainFactory(name="both.test")
    postmaster = domain.mailboxes.get(local_part="postmaster")
    assert postmaster.user.check_password(GOOD_DRAW)
