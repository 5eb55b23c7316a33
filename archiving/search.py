"""Full-text search over archived messages, behind one small interface.

`search_backend()` returns the backend named by `settings.ARCHIVE_SEARCH_BACKEND`:

- `archiving.search.PostgresSearch` (default): the `search` tsvector of each ArchivedMessage,
  written in the same statement as the entry (archiving.journaling): headers (From, To, Cc,
  Subject) and attachment names weighted A, the text of text/plain parts and of text/html parts
  (tags, scripts and styles dropped) weighted B, each under both the Italian and the English
  configuration, so a word matches in its Italian or English stemmed form. A GIN index serves it.
  A query is parsed with websearch_to_tsquery ("quoted phrases", -exclusions, or) in both
  configurations, OR-ed. Results come newest first (`order="date"`, the portal's list order):
  PostgreSQL then walks the (archive_id, message_date) or (message_date) index and stops at
  `limit` matches, or, for a rare word, takes the GIN matches and sorts them; either way a
  common word over a million messages stays well under 200 ms (bench/archive_search.py).
  `order="relevance"` ranks every match (ts_rank) first: exact, but it reads every matching
  vector, seconds for a common word in a large archive.
- An OpenSearch backend is one more module: a class with the same two methods, `index` (called
  by a Celery task after each journaling commit with the entry's id and the document from
  archiving.extract; bulk API, the entry id as the document id so a retry overwrites) and
  `search` (a bool query: multi_match over the text fields with the Italian and English
  analyzers, filters for archive ids, folder, dates and has-attachment; returns entry ids, then
  loaded from PostgreSQL in that order). Point the setting at it; callers do not change.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, QuerySet
from django.utils.module_loading import import_string

from archiving.models import ArchivedMessage


@dataclass(frozen=True)
class SearchFilters:
    folder: str | None = None
    sender: str = ""
    recipient: str = ""
    since: dt.datetime | None = None  # message date, inclusive
    before: dt.datetime | None = None  # message date, exclusive
    has_attachment: bool | None = None


def apply_filters(rows: QuerySet[ArchivedMessage], filters: SearchFilters) -> QuerySet[ArchivedMessage]:
    """The search's filters on `rows`: the one place that says what each filter means (the
    backends and the headers-only search of archiving.selectors use it)."""
    if filters.folder:
        rows = rows.filter(folder=filters.folder)
    if filters.sender:
        rows = rows.filter(sender__icontains=filters.sender)
    if filters.recipient:
        rows = rows.filter(recipients__icontains=filters.recipient)
    if filters.since:
        rows = rows.filter(message_date__gte=filters.since)
    if filters.before:
        rows = rows.filter(message_date__lt=filters.before)
    if filters.has_attachment is True:
        rows = rows.exclude(attachment_names=[])
    elif filters.has_attachment is False:
        rows = rows.filter(attachment_names=[])
    return rows


class PostgresSearch:
    def index(self, *, entry_id: int, document) -> None:
        """Nothing to do: the vector is written with the entry."""

    def search(
        self,
        *,
        archive_ids: list[int],
        text: str,
        filters: SearchFilters | None = None,
        limit: int = 100,
        order: str = "date",
    ) -> QuerySet[ArchivedMessage]:
        """Entries of `archive_ids` (the caller's selector decides which the actor may read)
        matching `text` and the filters, newest first (`order="relevance"`: best match first,
        then newest)."""
        # The vector itself is never shown: not fetched (a kilobyte or more per row).
        rows = ArchivedMessage.objects.filter(archive_id__in=archive_ids).defer("search")
        rows = apply_filters(rows, filters or SearchFilters())
        text = " ".join(text.split())
        if not text:
            return rows.order_by("-message_date", "-seq")[:limit]
        query = SearchQuery(text, config="italian", search_type="websearch") | SearchQuery(
            text, config="english", search_type="websearch"
        )
        rows = rows.filter(search=query)
        if order != "relevance":
            return rows.order_by("-message_date", "-seq")[:limit]
        return rows.annotate(rank=SearchRank(F("search"), query)).order_by("-rank", "-message_date", "-seq")[
            :limit
        ]


def search_backend():
    return import_string(settings.ARCHIVE_SEARCH_BACKEND)()
