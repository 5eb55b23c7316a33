"""The search's query paths (archiving.search): a quoted phrase narrowed by the index of adjacent
lexeme pairs gives exactly what the full-text query alone gives, only in the archives asked for;
the from/to filters are ILIKE substrings the trigram index serves."""

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archiving.indexing import archive_index_pending
from archiving.journaling import archive_journal
from archiving.models import ArchivedMessage
from archiving.search import (
    SearchFilters,
    _containing,
    _pairs_condition,
    _tsqueries,
    phrase_pairs,
    search_backend,
)
from tests.archiving.conftest import raw_message

pytestmark = pytest.mark.django_db

BODIES = {
    "adjacent": "Ti mando la fattura di gennaio e il contratto firmato.",
    "apart": "Il contratto di fornitura e poi, a parte, la fattura.",
    "reversed": "Firmato il contratto. Fattura allegata, gennaio chiuso.",
    "english": "The shipments were delivered yesterday, invoice attached.",
    "hyphen": "Please check the e-mail address and the follow-up meeting.",
    "three": "Riunione di progetto lunedi mattina con il cliente nuovo.",
}
QUERIES = [
    '"fattura di gennaio"',  # a stop word inside: <2>, no pair needed
    '"contratto firmato"',
    '"firmato contratto"',
    '"shipments delivered"',  # "were" between: <2>
    '"were delivered yesterday"',
    '"delivered yesterday" invoice',
    '"invoice attached" or "contratto firmato"',
    '"contratto firmato" -fattura',
    'contratto -"contratto firmato"',
    "e-mail",  # a hyphenated word is a phrase of its parts
    '"follow-up meeting"',
    '"riunione di progetto lunedi mattina"',
    '"progetto lunedi mattina"',
    '"mattina lunedi progetto"',
    '"gennaio contratto"',
    "fattura",
    '"nothing like this"',
]


@pytest.fixture
def two_archives(archived_mailbox):
    """Bob's archive with one message per body; Carla's with the same messages (one blob each,
    two entries), so a search leaking across archives would show."""
    bob, bob_archive = archived_mailbox()
    carla, carla_archive = archived_mailbox()
    for n, (tag, body) in enumerate(BODIES.items()):
        archive_journal(
            data=raw_message(tag, body=body), fingerprint=f"{n:064x}", received_by=[bob.pk, carla.pk]
        )
    archive_index_pending()
    return bob_archive, carla_archive


def reference(archive_ids: list[int], text: str) -> list[str]:
    """What the full-text query alone finds: the search before the pairs index."""
    query = SearchQuery(text, config="italian", search_type="websearch") | SearchQuery(
        text, config="english", search_type="websearch"
    )
    rows = ArchivedMessage.objects.filter(archive_id__in=archive_ids, search=query)
    return sorted(rows.values_list("subject", flat=True))


def test_a_phrase_finds_exactly_what_the_full_text_query_finds_and_only_in_the_archives_asked(two_archives):
    bob_archive, carla_archive = two_archives
    search = search_backend()
    for text in QUERIES:
        found = list(search.search(archive_ids=[bob_archive.pk], text=text))
        assert sorted(e.subject for e in found) == reference([bob_archive.pk], text), text
        assert {e.archive_id for e in found} <= {bob_archive.pk}, text
        # as the export takes a search: every match, in a subquery
        every = ArchivedMessage.objects.filter(
            pk__in=search.search(archive_ids=[bob_archive.pk], text=text, limit=None).values("pk")
        )
        assert sorted(every.values_list("subject", flat=True)) == reference([bob_archive.pk], text), text
        both = search.search(archive_ids=[bob_archive.pk, carla_archive.pk], text=text)
        assert sorted(e.subject for e in both) == reference([bob_archive.pk, carla_archive.pk], text), text
    # a few answers spelled out, so the reference itself is checked
    assert [e.subject for e in search.search(archive_ids=[bob_archive.pk], text='"contratto firmato"')] == [
        "adjacent"
    ]
    assert [
        e.subject for e in search.search(archive_ids=[bob_archive.pk], text='"progetto lunedi mattina"')
    ] == ["three"]
    assert list(search.search(archive_ids=[bob_archive.pk], text='"mattina lunedi progetto"')) == []
    assert list(search.search(archive_ids=[], text='"contratto firmato"')) == []


def test_the_pairs_index_holds_the_adjacent_words_of_each_message(two_archives):
    bob_archive, _ = two_archives

    def by_pairs(text):
        alternatives = phrase_pairs(_tsqueries(text))
        rows = ArchivedMessage.objects.filter(archive_id=bob_archive.pk).filter(
            _pairs_condition(alternatives)
        )
        return sorted(rows.values_list("subject", flat=True))

    # the condition the index serves: adjacent in that order, in the Italian or English stems
    assert by_pairs('"contratto firmato"') == ["adjacent"]
    assert by_pairs('"contratti firmati"') == ["adjacent"]  # the same Italian stems
    assert by_pairs('"firmato contratto"') == []
    assert by_pairs('"shipment delivered"') == []  # "were" between
    assert by_pairs('"delivered yesterday"') == ["english"]
    assert by_pairs('"progetto lunedi mattina"') == ["three"]
    assert by_pairs('"mattina lunedi"') == []
    # what says nothing about pairs asks for none
    assert phrase_pairs(_tsqueries("fattura contratto")) is None
    assert phrase_pairs(_tsqueries('"fattura di gennaio"')) is None  # <2>: a stop word between
    assert phrase_pairs(_tsqueries('contratto -"contratto firmato"')) is None


def test_a_phrase_search_asks_for_what_the_pairs_index_serves_and_the_from_filter_for_the_trigram_index(
    two_archives, monkeypatch
):
    bob_archive, _ = two_archives
    search = search_backend()

    def plan(queryset):
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())

    pairs = ArchivedMessage.objects.filter(_pairs_condition(phrase_pairs(_tsqueries('"contratto firmato"'))))
    assert "archived_message_search_pairs" in plan(pairs)
    # the search takes its candidates through that condition, then checks them (in so small an
    # archive PostgreSQL would rather walk the dates: told not to)
    from archiving import search as module

    monkeypatch.setattr(module, "PLAIN_WALK_SHARE", 1.0)
    with CaptureQueriesContext(connection) as queries:
        found = list(search.search(archive_ids=[bob_archive.pk], text='"contratto firmato"'))
    assert [e.subject for e in found] == ["adjacent"]
    candidates = [
        q["sql"] for q in queries if "archive_search_pairs" in q["sql"] and "EXPLAIN" not in q["sql"]
    ]
    assert candidates and all("hashtext('contratto firmato')" in sql for sql in candidates)
    assert "@@" in queries[-1]["sql"]  # the phrase itself, on the candidates
    # the sender filter alone, across archives: the trigram index (ILIKE; UPPER(sender) LIKE is not served)
    assert "archived_message_sender_trgm" in plan(
        ArchivedMessage.objects.filter(_containing("sender", "alice@"))
    )
    sql = str(
        search.search(archive_ids=[bob_archive.pk], text="", filters=SearchFilters(sender="alice@")).query
    )
    assert 'sender" ILIKE' in sql


def test_the_from_and_to_filters_are_case_insensitive_substrings_with_literal_wildcards(
    archived_mailbox,
):
    bob, archive = archived_mailbox()
    archive_journal(
        data=raw_message("plain", sender="Mario.Rossi@far.example"),
        fingerprint="1" * 64,
        received_by=[bob.pk],
    )
    archive_journal(
        data=raw_message("under", sender="a_b@far.example"), fingerprint="2" * 64, received_by=[bob.pk]
    )
    archive_journal(
        data=raw_message("pct", sender="x%y@far.example", to="Carla <carla@acme.test>"),
        fingerprint="3" * 64,
        received_by=[bob.pk],
    )
    search = search_backend()

    def hits(**filters):
        return sorted(
            e.subject
            for e in search.search(archive_ids=[archive.pk], text="", filters=SearchFilters(**filters))
        )

    assert hits(sender="mario.rossi@") == ["plain"]
    assert hits(sender="ROSSI") == ["plain"]
    assert hits(sender="a_b@") == ["under"]
    assert hits(sender="a_") == ["under"]  # "_" is no wildcard: "Mario.Rossi" has no "a_"
    assert hits(sender="x%y") == ["pct"]
    assert hits(sender="%") == ["pct"]
    assert hits(sender="\\") == []
    assert hits(recipient="CARLA@") == ["pct"]
    assert hits(sender="far.example") == ["pct", "plain", "under"]


def dated_message(tag: str, body: str, date: str | None) -> bytes:
    header = f"Date: {date}\r\n" if date else ""
    return (
        f"From: Alice <alice@far.example>\r\nTo: bob@acme.test\r\nSubject: {tag}\r\n"
        f"Message-ID: <{tag}@far.example>\r\n{header}\r\n{body}\r\n"
    ).encode()


# The three ways to the candidates (archiving.search._phrase_candidates), each forced in turn.
WAYS = {
    "few, all at once": {},
    "date windows": {"FEW_CANDIDATES": 0},
    "date walk": {"PLAIN_WALK_SHARE": 0.0},
}


@pytest.mark.parametrize("way", WAYS)
def test_a_phrase_gives_the_newest_matches_in_order_across_every_window_of_dates(
    archived_mailbox, monkeypatch, way
):
    """The pairs are looked up a month back first, then further: the first page is still exactly
    the plain query's first page, in its order: matches older than five years, undated ones
    (first, as the plain order puts them) and decoys with both words apart."""
    import datetime as dt
    import email.utils

    from django.utils import timezone

    bob, archive = archived_mailbox()
    now = timezone.now()
    ages = [0, 3, 20, 40, 100, 200, 400, 800, 1500, 2500, 3000]  # days
    n = 0
    for age in ages:
        date = email.utils.format_datetime(now - dt.timedelta(days=age, hours=1))
        for tag, body in (
            (f"match-{age}", "Ti mando il contratto firmato oggi."),
            (f"apart-{age}", "Firmato il contratto, poi altro."),
        ):
            archive_journal(
                data=dated_message(tag, body, date), fingerprint=f"{n:064x}", received_by=[bob.pk]
            )
            n += 1
    archive_journal(
        data=dated_message("match-undated", "contratto firmato, senza data", None),
        fingerprint=f"{n:064x}",
        received_by=[bob.pk],
    )
    archive_index_pending()
    query = SearchQuery('"contratto firmato"', config="italian", search_type="websearch") | SearchQuery(
        '"contratto firmato"', config="english", search_type="websearch"
    )
    plain = ArchivedMessage.objects.filter(archive_id=archive.pk, search=query).order_by(
        "-message_date", "-seq"
    )
    expected = list(plain.values_list("subject", flat=True))
    assert expected[0] == "match-undated" and expected[-1] == "match-3000" and len(expected) == 12
    from archiving import search as module

    for name, value in WAYS[way].items():
        monkeypatch.setattr(module, name, value)
    search = search_backend()
    for limit in (1, 2, 3, 5, 8, 11, 12, 50):
        found = [
            e.subject
            for e in search.search(archive_ids=[archive.pk], text='"contratto firmato"', limit=limit)
        ]
        assert found == expected[:limit], limit


def test_a_long_phrase_whose_pairs_are_scattered_in_newer_messages_is_still_found(archived_mailbox):
    """The newest candidates hold both pairs of "progetto lunedi mattina" but apart: the check
    refuses them all and the search falls back to the exact query, which finds the older match."""
    import datetime as dt
    import email.utils

    from django.utils import timezone

    bob, archive = archived_mailbox()
    now = timezone.now()
    bodies = [(f"scattered-{n}", "progetto lunedi, poi lunedi mattina") for n in range(4)]
    bodies.append(("match", "riunione di progetto lunedi mattina"))
    for n, (tag, body) in enumerate(bodies):
        date = email.utils.format_datetime(now - dt.timedelta(days=n))
        archive_journal(data=dated_message(tag, body, date), fingerprint=f"{n:064x}", received_by=[bob.pk])
    archive_index_pending()
    found = search_backend().search(archive_ids=[archive.pk], text='"progetto lunedi mattina"', limit=1)
    assert [e.subject for e in found] == ["match"]
