"""Archive search benchmark: p95 of realistic searches over N archived messages (default
1,000,000), built with a bulk loader (COPY) into a database of its own that is KEPT between runs
(`bench_archive_search`, rebuilt when it holds a different number of messages or with --rebuild).

    .venv/bin/python bench/archive_search.py [--messages 1000000] [--rebuild] [--runs 40]
    (bench/archive.py runs it too, after the ingest and disk figures)

The data set: 1,000 archives, one of them large (10% of the messages, the worst mailbox to search
in), message dates over five years; subjects and bodies from a 6,000-word Italian/English
vocabulary with a Zipf distribution (a few words very common, most rare), senders among 5,000
addresses; a tenth of the messages with an attachment name. The search vectors are built as
journaling and indexing build them (Italian and English stems, headers weight A, body weight B):
the vocabulary is stemmed once by PostgreSQL, then each row's vector is assembled from the
stems (a body is one of 50,000 distinct texts, as real mail repeats itself), so the load takes
minutes rather than hours. The indexes are dropped before the load and built after it from their
own definitions; the longest is the index of adjacent lexeme pairs (phrases, migration 0007): it
runs archive_search_pairs over every vector, about half a millisecond a message on one core (a
rebuild takes 15 to 50 minutes, depending on how busy the machine is), which is why the data set
is kept. The queries go through archiving.search (the portal's code), asking what the portal's
search page asks: its first page's rows and one more (the target), and its last page's."""

import argparse
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

DB_NAME = "bench_archive_search"
ARCHIVES = 1000
BODIES = 50_000
SENDERS = 5000
SYLLABLES = "ca co fa pe ri so ta ve lo mi na de gi ra tu bo le ne pa si".split()
BASE_WORDS = (
    "fattura contratto consegna ordine riunione progetto cliente offerta preventivo pagamento "
    "invoice contract delivery order meeting project customer offer quote payment bilancio "
    "magazzino spedizione garanzia assistenza rinnovo scadenza sconto listino catalogo"
).split()


def vocabulary(n: int = 6000) -> list[str]:
    rng = random.Random(7)  # noqa: S311
    words = list(BASE_WORDS)
    seen = set(words)
    while len(words) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 5)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def stems(words: list[str]) -> dict[str, tuple[str, str]]:
    """Each word's Italian and English lexeme (what to_tsvector makes of it), from PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w, (SELECT string_agg(lexeme, ' ') FROM unnest(to_tsvector('italian', w))), "
            "(SELECT string_agg(lexeme, ' ') FROM unnest(to_tsvector('english', w))) "
            "FROM unnest(%s::text[]) w",
            [words],
        )
        return {w: (it or "", en or "") for w, it, en in cursor.fetchall()}


def zipf_picker(rng: random.Random, n: int):
    weights = [1 / (i + 1) for i in range(n)]
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def pick(k: int) -> list[int]:
        return rng.choices(range(n), cum_weights=cumulative, k=k)

    return pick


def vector_part(words: list[str], stem: dict, weight: str, start: int) -> str:
    out = []
    for i, w in enumerate(words, start=start):
        it, en = stem[w]
        for lex in {it, en}:
            if lex:
                out.append(f"'{lex}':{i}{weight}")
    return " ".join(out)


def build(messages: int) -> None:
    words = vocabulary()
    stem = stems(words)
    rng = random.Random(42)  # noqa: S311
    pick = zipf_picker(rng, len(words))
    print(f"  building {messages:,} messages (vocabulary {len(words)} words, {BODIES:,} distinct bodies)...")
    began = time.perf_counter()
    bodies = []
    for _ in range(BODIES):
        body_words = [words[i] for i in pick(rng.randint(30, 120))]
        bodies.append(vector_part(body_words, stem, "B", 20))
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE archive_archivedmessage, archive_archivedayhead, archive_archiveblob CASCADE"
        )
        cursor.execute("DELETE FROM archive_archiveimport")
        cursor.execute("DELETE FROM archive_archive")
        cursor.execute(
            "INSERT INTO archive_archive (id, address, retention_years, created_at, legal_hold, head_seq, "
            "head_hash, purged_seq, purged_hash) "
            "SELECT g, 'box' || g || '@bench.test', 10, now(), false, 0, '', 0, '' "
            "FROM generate_series(1, %s) g",
            [ARCHIVES],
        )
        cursor.execute(
            "INSERT INTO archive_archiveblob (sha256, size, stored_size, created_at) "
            "SELECT md5(g::text) || md5((-g)::text), 8000, 3000, now() FROM generate_series(1, %s) g",
            [BODIES],
        )
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'archive_archivedmessage' "
            "AND indexname NOT LIKE '%%pkey' AND indexdef NOT LIKE 'CREATE UNIQUE%%'"
        )
        secondary = cursor.fetchall()
        for name, _definition in secondary:
            cursor.execute(f'DROP INDEX "{name}"')
    big = messages // 10
    start_day = 1_600_000_000  # 2020-09
    span = 5 * 365 * 86400
    seqs = [0] * (ARCHIVES + 1)
    batch = 50_000
    done = 0
    while done < messages:
        buf = io.StringIO()
        for n in range(done, min(done + batch, messages)):
            archive = 1 if n < big else 2 + (n % (ARCHIVES - 1))
            seqs[archive] += 1
            when = start_day + rng.randrange(span)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(when))
            subject_words = [words[i] for i in pick(rng.randint(2, 6))]
            sender_n = rng.randrange(SENDERS)
            sender = f"Partner {sender_n} <partner{sender_n}@far{sender_n % 300}.example>"
            subject = " ".join(subject_words)
            attachment = '["listino-%d.pdf"]' % (n % 40) if n % 10 == 0 else "[]"
            body = n % BODIES
            head = vector_part(subject_words, stem, "A", 1)
            vector = f"{head} 'partner{sender_n}':15A 'far{sender_n % 300}':16A {bodies[body]}"
            folder = "sent" if n % 4 == 0 else "received"
            sha = f"{n:064x}"
            blob = f"{_md5(body + 1)}"
            buf.write(
                f"{archive}\t{seqs[archive]}\t{folder}\t{sha}\t{blob}\t{stamp}\t{stamp}"
                f"\t<{n}@far.example>\t{sender}\tbox{archive}@bench.test\t{subject}\t8000"
                f"\t{attachment}\t{sha}\t\t{vector}\tt\n"
            )
        buf.seek(0)
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY archive_archivedmessage (archive_id, seq, folder, fingerprint, blob_sha256, "
                "archived_at, message_date, message_id, sender, recipients, subject, size, attachment_names, "
                "entry_hash, prev_hash, search, body_indexed) FROM STDIN"
            ) as copy:
                copy.write(buf.getvalue())
        done = min(done + batch, messages)
        print(f"    {done:,} rows ({time.perf_counter() - began:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in secondary:
            print(f"    index {name}...", flush=True)
            cursor.execute(definition)
        cursor.execute(
            "UPDATE archive_archive a SET head_seq = s.m FROM (SELECT archive_id, max(seq) m "
            "FROM archive_archivedmessage GROUP BY 1) s WHERE s.archive_id = a.id"
        )
        cursor.execute("ANALYZE archive_archivedmessage")
    print(f"  built in {time.perf_counter() - began:.0f} s")


_MD5 = {}


def _md5(g: int) -> str:
    import hashlib

    if g not in _MD5:
        _MD5[g] = hashlib.md5(str(g).encode()).hexdigest() + hashlib.md5(str(-g).encode()).hexdigest()  # noqa: S324
    return _MD5[g]


def measure(runs: int, limit: int) -> dict[str, tuple[float, float]]:
    import datetime as dt

    from archiving.search import SearchFilters, search_backend

    plain = search_backend()

    class backend:  # the portal's page size, unless --limit says otherwise
        @staticmethod
        def search(**kwargs):
            return plain.search(limit=limit, **kwargs)

    words = vocabulary()
    rng = random.Random(99)  # noqa: S311
    every = list(range(1, ARCHIVES + 1))
    common, mid, rare = BASE_WORDS[:10], words[30:300], words[2000:6000]
    since, before = dt.datetime(2022, 1, 1, tzinfo=dt.UTC), dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    cases = {
        "word, one (large) mailbox": lambda: backend.search(archive_ids=[1], text=rng.choice(common + mid)),
        "rare word, one mailbox": lambda: backend.search(archive_ids=[1], text=rng.choice(rare)),
        # A phrase of two of the ten commonest words (in almost every message) is the worst case:
        "phrase of two very common words, one mailbox": lambda: backend.search(
            archive_ids=[1], text=f'"{rng.choice(common)} {rng.choice(common)}"'
        ),
        "phrase, one mailbox": lambda: backend.search(
            archive_ids=[1], text=f'"{rng.choice(mid)} {rng.choice(mid)}"'
        ),
        "from + date range + word, one mailbox": lambda: backend.search(
            archive_ids=[1],
            text=rng.choice(common),
            filters=SearchFilters(sender=f"partner{rng.randrange(50)}@", since=since, before=before),
        ),
        "from + date range, no text, one mailbox": lambda: backend.search(
            archive_ids=[1],
            text="",
            filters=SearchFilters(sender=f"partner{rng.randrange(50)}@", since=since, before=before),
        ),
        "word, across all archives": lambda: backend.search(archive_ids=every, text=rng.choice(common + mid)),
        "phrase of two very common words, across": lambda: backend.search(
            archive_ids=every, text=f'"{rng.choice(common)} {rng.choice(common)}"'
        ),
        "phrase, across all archives": lambda: backend.search(
            archive_ids=every, text=f'"{rng.choice(mid)} {rng.choice(mid)}"'
        ),
        "from + date range + word, across": lambda: backend.search(
            archive_ids=every,
            text=rng.choice(mid),
            filters=SearchFilters(sender=f"partner{rng.randrange(5000)}@", since=since, before=before),
        ),
    }
    results = {}
    for name, make in cases.items():
        list(make())  # warm
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            list(make())
            times.append(1000 * (time.perf_counter() - began))
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        results[name] = (statistics.median(times), p95)
    return results


def run(messages: int, runs: int, rebuild: bool, limit: int | None = None) -> bool:
    """Build (or reuse) the data set, measure, print; True when every p95 < 200 ms."""
    db_name = DB_NAME if messages == 1_000_000 else f"{DB_NAME}_{messages}"
    settings.DATABASES["default"]["TEST"]["NAME"] = db_name
    old = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM archive_archivedmessage")
            have = cursor.fetchone()[0]
        print(f"search: database {db_name} (kept between runs), {have:,} messages")
        if rebuild or have != messages:
            build(messages)
        from archive.views.browse import PER_PAGE, SEARCH_LIMIT

        # What the portal's search asks: a page's rows and one more (the first page: 51), and
        # on its tenth page, the last it shows, 501. The target is the first page's; the deep
        # page is printed beside it.
        ok = True
        for asked, judged in ((limit, True),) if limit else ((PER_PAGE + 1, True), (SEARCH_LIMIT + 1, False)):
            results = measure(runs, asked)
            what = "target p95 < 200 ms" if judged else "the last page shown: for information"
            print(
                f"  {'query':44} {'p50 ms':>8} {'p95 ms':>8}   "
                f"({runs} runs each, {asked} results asked, {what})"
            )
            for name, (p50, p95) in results.items():
                ok &= p95 < 200 or not judged
                print(f"  {name:44} {p50:8.1f} {p95:8.1f}   ratio p95/200 ms {p95 / 200:.2f}")
        return ok
    finally:
        connection.close()
        settings.DATABASES["default"]["NAME"] = old


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--limit", type=int, help="results asked (default: the portal's first and last page)")
    args = parser.parse_args()
    ok = run(args.messages, args.runs, args.rebuild, args.limit)
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
