"""The planner's price of `archive_search_pairs` (migration 0008): computing a vector's pairs takes
about half a millisecond, where PostgreSQL assumes a cheap function (COST 100 operators). At
that price it preferred walking the date index and computing each row's pairs to taking the rows
from the pairs index (2 s instead of 40 ms for a phrase over a 100,000-message archive). The
search runs the queries this makes look expensive without JIT and parallel workers
(archiving.search._rows_of)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0008_search_phrase_pairs"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER FUNCTION archive_search_pairs(tsvector) COST 5000",
            reverse_sql="ALTER FUNCTION archive_search_pairs(tsvector) COST 100",
        ),
    ]
