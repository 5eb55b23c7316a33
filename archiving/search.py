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
  A quoted phrase ("fattura di gennaio") is found through a second GIN index, over each
  vector's pairs of adjacent lexemes (migration 0008, `archive_search_pairs`): the newest rows
  holding the phrase's pairs are taken window by window back from today (a month, four months,
  sixteen, five years, everything; the first window with enough of them is the answer's), then
  the phrase itself is checked on those candidates (`search @@ query`), so the results are
  exactly the query's; the pairs only say where to look. Without them PostgreSQL would read the
  positions of every message holding both words (seconds for common words), or walk the date
  index reading each vector. When the candidates fail the check (a long phrase whose pairs are
  apart), the plain query answers.
  The from and to filters are substrings (ILIKE), served across archives by a trigram index.
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
import json
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.lookups import DataContains
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Func, IntegerField, Lookup, Max, Min, Q, QuerySet, Value
from django.utils import timezone
from django.utils.module_loading import import_string

from archiving.models import ArchivedMessage

CONFIGS = ("italian", "english")


@dataclass(frozen=True)
class SearchFilters:
    folder: str | None = None
    sender: str = ""
    recipient: str = ""
    since: dt.datetime | None = None  # message date, inclusive
    before: dt.datetime | None = None  # message date, exclusive
    has_attachment: bool | None = None


class _ILike(Lookup):
    """`sender ILIKE '%x%'`: the trigram index (archived_message_sender_trgm) serves it; Django's
    icontains writes UPPER(sender) LIKE UPPER('%x%'), which no index serves."""

    lookup_name = "ilike"  # used as an expression, never registered on a field

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


def _containing(field: str, text: str) -> _ILike:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _ILike(F(field), f"%{escaped}%")


# -- phrases: the pairs of adjacent lexemes a query needs ------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<lexeme>'(?:[^']|'')*')(?P<flags>:[*A-D]+)?|(?P<phrase><(?:-|\d+)>)|(?P<op>[&|!()]))"
)


def _parse_tsquery(text: str):
    """The tree of a tsquery as PostgreSQL prints it: ("lex", lexeme, usable), ("not", x),
    ("and" | "or", a, b), ("phrase", a, b, distance); None when empty. Precedence: ! then <N>
    then & then |, as PostgreSQL's."""
    tokens, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            if text[at:].strip():
                raise ValueError(text)
            break
        at = m.end()
        if m["lexeme"]:
            lexeme = m["lexeme"][1:-1].replace("''", "'").replace("\\\\", "\\")
            tokens.append(("lex", lexeme, "*" not in (m["flags"] or "")))
        elif m["phrase"]:
            distance = m["phrase"][1:-1]
            tokens.append(("phrase", 1 if distance == "-" else int(distance)))
        else:
            tokens.append((m["op"],))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else (None,)

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def operand():
        token = take()
        if token[0] == "lex":
            return token
        if token[0] == "!":
            return ("not", operand())
        if token[0] == "(":
            inner = alternatives()
            if take()[0] != ")":
                raise ValueError(text)
            return inner
        raise ValueError(text)

    def phrase():
        node = operand()
        while peek()[0] == "phrase":
            distance = take()[1]
            node = ("phrase", node, operand(), distance)
        return node

    def conjunction():
        node = phrase()
        while peek()[0] == "&":
            take()
            node = ("and", node, phrase())
        return node

    def alternatives():
        node = conjunction()
        while peek()[0] == "|":
            take()
            node = ("or", node, conjunction())
        return node

    if not tokens:
        return None
    tree = alternatives()
    if pos != len(tokens):
        raise ValueError(text)
    return tree


def _chain(node):
    """A phrase of lexemes as [(lexeme or None, offset)], None when it is not one."""
    if node[0] == "lex":
        return [(node[1] if node[2] else None, 0)]
    if node[0] != "phrase":
        return None
    left, right = _chain(node[1]), _chain(node[2])
    if left is None or right is None:
        return None
    shift = max(offset for _, offset in left) + node[3]
    return left + [(lexeme, offset + shift) for lexeme, offset in right]


MAX_ALTERNATIVES = 8


def _needed_pairs(node):
    """What a row must hold for the query to match it, as alternatives (a set of frozensets of
    adjacent lexeme pairs: one of the sets, every pair in it); None when nothing is known (a
    word alone, a negation): the words' own index serves those."""
    kind = node[0]
    if kind in ("lex", "not"):
        return None
    if kind == "phrase":
        chain = _chain(node)
        if chain is None:
            return _both(_needed_pairs(node[1]), _needed_pairs(node[2]))
        pairs = frozenset(
            (a, b)
            for a, offset in chain
            for b, following in chain
            if a is not None and b is not None and following == offset + 1
        )
        return {pairs} if pairs else None
    if kind == "and":
        return _both(_needed_pairs(node[1]), _needed_pairs(node[2]))
    left, right = _needed_pairs(node[1]), _needed_pairs(node[2])  # or
    if left is None or right is None:
        return None
    return left | right


def _both(left, right):
    if left is None or right is None:
        return left if right is None else right
    together = {a | b for a in left for b in right}
    return together if len(together) <= MAX_ALTERNATIVES else left


def phrase_pairs(tsqueries: list[str]) -> set[frozenset[tuple[str, str]]] | None:
    """The adjacent lexeme pairs a row needs to match any of `tsqueries` (PostgreSQL's text of
    each), or None when they say nothing about pairs."""
    needed: set = set()
    for text in tsqueries:
        try:
            tree = _parse_tsquery(text)
        except ValueError:
            return None
        alternatives = _needed_pairs(tree) if tree is not None else set()
        if alternatives is None:
            return None
        needed |= alternatives
    if not needed or len(needed) > MAX_ALTERNATIVES:
        return None
    return needed


_PAIRS_OF_SEARCH = Func(F("search"), function="archive_search_pairs", output_field=ArrayField(IntegerField()))


class _Keys(Func):
    template = "ARRAY[%(expressions)s]::integer[]"
    output_field = ArrayField(IntegerField())


def _pair_key(a: str, b: str) -> Func:
    # archive_search_pairs computes the same, for each lexeme and the one after it
    return Func(Value(f"{a} {b}"), function="hashtext", output_field=IntegerField())


def _pairs_condition(alternatives) -> Q:
    condition = Q()
    for pairs in sorted(alternatives, key=sorted):
        keys = _Keys(*(_pair_key(a, b) for a, b in sorted(pairs)))
        condition |= Q(DataContains(_PAIRS_OF_SEARCH, keys))
    return condition


_PUNCTUATION = re.compile(r"[^\w\s]|_")  # letters, digits and spaces alone make no phrase


def _tsqueries(text: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(f"websearch_to_tsquery('{c}', %s)::text" for c in CONFIGS),
            [text] * len(CONFIGS),
        )
        return list(cursor.fetchone())


# A phrase's matches, newest first. Three ways, chosen from PostgreSQL's estimate of how many rows
# of the search's scope hold the phrase's pairs (the pairs index keeps statistics):
# - common (over PLAIN_WALK_SHARE of the scope): walk the date index checking the phrase on each
#   row; a page of matches comes after a few hundred rows;
# - few (under FEW_CANDIDATES rows): take them all from the pairs index and sort them;
# - in between: date windows back from the scope's newest message, the first sized to hold about
#   twice the rows wanted by the estimate, each four times the last: one bitmap scan of the two
#   indexes each, the rows found sorted; the first window holding enough holds the newest overall.
# The candidates are then checked against the phrase itself (`search @@ query`).
PLAIN_WALK_SHARE = 0.06
FEW_CANDIDATES = 1000
# Candidates taken per result: the pairs of a two-word phrase are the phrase itself (a hash
# collision aside); a longer phrase needs its pairs in a chain, which the check verifies.
PHRASE_CANDIDATES_PER_RESULT = 2


def _estimated_rows(rows: QuerySet) -> float:
    sql, params = rows.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


def _rows_of(sql: str, params) -> list[tuple]:
    """Run one of the candidate queries with room for its bitmaps, without JIT compilation and
    parallel workers: the
    planner prices each row's pairs at what computing them costs (migration 0009), so these
    plans look expensive, yet they read a few hundred rows; compiling and starting workers took
    longer than the query (30 to 100 ms)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        # Room for exact bitmaps: a lossy page is rechecked row by row, computing each row's
        # pairs (a window of 130,000 dates took 2.7 s at the default 4 MB, 37 ms with room).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _top_ids(window: QuerySet, wanted: int) -> list[int]:
    """The ids of the `wanted` newest rows of `window`, taken from the indexes its conditions
    name and sorted: MATERIALIZED keeps PostgreSQL from walking the date index instead and
    computing each row's pairs (half a millisecond a row)."""
    sql, params = window.order_by().values("pk", "message_date", "seq").query.sql_with_params()
    return [
        row[0]
        for row in _rows_of(
            f"WITH window_rows AS MATERIALIZED ({sql}) SELECT pk FROM window_rows "  # noqa: S608
            "ORDER BY message_date DESC, seq DESC LIMIT %s",
            [*params, wanted],
        )
    ]


_unknown_pair: dict[str, tuple[float, float]] = {}  # database alias -> (estimate, when)


def _unknown_pair_estimate(rows: QuerySet) -> float:
    """PostgreSQL's estimate for a pair its statistics do not hold (asked with a key no message
    has), kept ten minutes: the statistics change with ANALYZE, not with each search."""
    now = time.monotonic()
    alias = rows.db
    known = _unknown_pair.get(alias)
    if known is None or now - known[1] > 600:
        nobody = rows.model.objects.filter(_pairs_condition({frozenset({("\x01", "\x02")})}))
        known = _unknown_pair[alias] = (_estimated_rows(nobody), now)
    return known[0]


def _newest_first(row: tuple) -> tuple:
    """Sort key of (pk, message_date, seq) rows in the plain query's order: undated first."""
    _pk, date, seq = row
    return (date is None, date.timestamp() if date is not None else 0.0, seq)


def _phrase_candidates(rows: QuerySet, condition: Q, wanted: int) -> list[int] | None:
    """The ids of the `wanted` newest rows of `rows` holding the pairs (all of them when fewer),
    newest first; None when the pairs are so common that the date walk is quicker."""
    with_pairs = rows.filter(condition)
    try:
        # The pairs index's statistics know the common pairs well (a rare one gets a default
        # guess, thousands): a common one is left to the date walk.
        estimate = _estimated_rows(with_pairs)
        if estimate > PLAIN_WALK_SHARE * max(_estimated_rows(rows), 1.0):
            return None
        sql, params = with_pairs.order_by().values("pk", "message_date", "seq").query.sql_with_params()
    except EmptyResultSet:  # no archive asked for: nothing to find
        return []
    # A pair the statistics do not know gets PostgreSQL's guess for an unknown one: it may be in
    # a handful of messages. Those few are taken all at once from the pairs index, sorted here.
    if estimate <= 2 * len(condition) * _unknown_pair_estimate(rows):
        few = _rows_of(f"{sql} LIMIT %s", [*params, FEW_CANDIDATES + 1])
        if len(few) <= FEW_CANDIDATES:
            return [row[0] for row in sorted(few, key=_newest_first, reverse=True)[:wanted]]
    span = rows.filter(message_date__lte=timezone.now()).aggregate(
        newest=Max("message_date"), oldest=Min("message_date")
    )
    newest, oldest = span["newest"], span["oldest"]
    if newest is None:
        return _top_ids(with_pairs, wanted)
    total = max((newest - oldest).total_seconds(), 86400.0)
    # The first window should hold about twice the rows wanted, if the pairs are spread evenly
    # over the dates; there are more than FEW_CANDIDATES of them, the estimate says how many.
    seconds = total * 2 * wanted / max(estimate, FEW_CANDIDATES + 1)
    while seconds < total:
        # Undated messages (no valid Date header) and future dates belong to every window: the
        # plain order puts them first.
        since = newest - dt.timedelta(seconds=seconds)
        window = with_pairs.filter(Q(message_date__gte=since) | Q(message_date__isnull=True))
        ids = _top_ids(window, wanted)
        if len(ids) >= wanted:
            return ids
        seconds *= 4
    return _top_ids(with_pairs, wanted)


def apply_filters(rows: QuerySet[ArchivedMessage], filters: SearchFilters) -> QuerySet[ArchivedMessage]:
    """The search's filters on `rows`: the one place that says what each filter means (the
    backends and the headers-only search of archiving.selectors use it)."""
    if filters.folder:
        rows = rows.filter(folder=filters.folder)
    if filters.sender:
        rows = rows.filter(_containing("sender", filters.sender))
    if filters.recipient:
        rows = rows.filter(_containing("recipients", filters.recipient))
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
        query = SearchQuery(text, config=CONFIGS[0], search_type="websearch") | SearchQuery(
            text, config=CONFIGS[1], search_type="websearch"
        )
        matching = rows.filter(search=query)
        # Quotes, and words the parser splits ("e-mail"), make phrases: their pairs find them.
        if limit is not None and order != "relevance" and _PUNCTUATION.search(text):
            tsqueries = _tsqueries(text)
            alternatives = phrase_pairs(tsqueries) if "<" in "".join(tsqueries) else None
            if alternatives:
                wanted = limit * PHRASE_CANDIDATES_PER_RESULT
                candidates = _phrase_candidates(rows, _pairs_condition(alternatives), wanted)
                if candidates is not None:
                    # The phrase itself is checked on the candidates: the results are exactly
                    # the query's, the pairs only say where to look.
                    found = matching.filter(pk__in=candidates).order_by("-message_date", "-seq")[:limit]
                    if len(candidates) < wanted or len(found) >= limit:
                        return found
                # Pairs in most messages (the date walk below finds a page sooner), or many
                # candidates without the phrase (a long phrase whose pairs are apart): the
                # plain query answers, exactly.
        if order != "relevance":
            return matching.order_by("-message_date", "-seq")[:limit]
        return matching.annotate(rank=SearchRank(F("search"), query)).order_by(
            "-rank", "-message_date", "-seq"
        )[:limit]


def search_backend():
    return import_string(settings.ARCHIVE_SEARCH_BACKEND)()
