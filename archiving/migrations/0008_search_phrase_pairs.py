"""Phrase search (archiving.search): a GIN index over the pairs of adjacent lexemes of each
message's search vector, so a quoted phrase finds its few candidate rows at once instead of
checking the positions of every row that holds all its words (seconds over a million messages).

`archive_search_pairs(v)` returns, for every lexeme at position p and every lexeme at p + 1,
hashtext(lexeme || ' ' || next lexeme): the same key archiving.search computes for two
adjacent words of a phrase. It reads only the vector (IMMUTABLE, as an index expression must
be) and only pg_catalog functions, so it does not depend on the search_path (a restore or
ANALYZE runs with another one). hashtext has been stable since PostgreSQL 8.4; were it ever to
change, REINDEX INDEX archived_message_search_pairs (a hash collision only adds a candidate:
the search still checks the phrase itself)."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.db.models.expressions
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

PAIRS_FUNCTION = """
CREATE OR REPLACE FUNCTION archive_search_pairs(v tsvector) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT pg_catalog.hashtext(a.lexeme || ' ' || b.lexeme)), '{}')
    FROM (SELECT lexeme, pg_catalog.unnest(positions) AS p FROM pg_catalog.unnest(v)) a
    JOIN (SELECT lexeme, pg_catalog.unnest(positions) AS p FROM pg_catalog.unnest(v)) b ON b.p = a.p + 1
$$
"""


class Migration(migrations.Migration):
    # Built concurrently: over an existing archive the build runs the function over every vector
    # (about half a millisecond each), and a plain CREATE INDEX would hold back journaling (the
    # MX's 250) for all that time.
    atomic = False
    dependencies = [
        ("archive", "0007_archive_outlives_mailbox"),
    ]

    operations = [
        migrations.RunSQL(PAIRS_FUNCTION, reverse_sql="DROP FUNCTION archive_search_pairs(tsvector)"),
        AddIndexConcurrently(
            model_name="archivedmessage",
            index=django.contrib.postgres.indexes.GinIndex(
                django.db.models.expressions.Func(
                    models.F("search"),
                    function="archive_search_pairs",
                    output_field=django.contrib.postgres.fields.ArrayField(
                        base_field=models.IntegerField(), size=None
                    ),
                ),
                name="archived_message_search_pairs",
            ),
        ),
    ]
