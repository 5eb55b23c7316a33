"""Tracemail shows the inbound filter's verdict and score (page and CSV)."""

from django.urls import reverse
from django.utils import translation

from mta import services
from mta.models import TracemailEntry


def test_tracemail_shows_the_filter_verdict_and_score(world, postmaster_client):
    # given an incoming message the filter filed in Junk with a score of 7.5
    trace = services.MessageTrace(
        sender="promo@far.example",
        sender_domain_id=None,
        subject="cheap",
        spam_verdict="spam",
        spam_score=7.5,
    )
    services.tracemail_record(
        trace=trace,
        recipient=f"postmaster@{world.domain.name}",
        recipient_domain_id=world.domain.pk,
        direction=TracemailEntry.Direction.IN,
        status=TracemailEntry.Status.DELIVERED,
    )
    url = reverse("mailadmin:tracemail", args=[world.domain.name])
    # then the page (in English) and the CSV export show both
    with translation.override("en"):
        page = postmaster_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Spam (Junk) (7.50)" in page
    csv = b"".join(postmaster_client.get(url + "?format=csv").streaming_content).decode().splitlines()
    assert csv[0].endswith(",filter_verdict,spam_score")
    assert csv[1].endswith(",spam,7.5")
