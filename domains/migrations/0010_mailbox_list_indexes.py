"""Indexes of the control panel's mailbox list for large domains (issue 15 item 7,
bench/panel_list.py): the sort by name, and the search by a part of the address or of the
names. The search is Django's icontains, UPPER(column::text) LIKE UPPER('%text%'): a pg_trgm
GIN index on each of those expressions answers it (a BitmapOr of the three) instead of reading
every mailbox of the domain. Without GIN's fast update: mailboxes are written seldom, and
with it new rows wait in a pending list that every search reads linearly until a vacuum
merges it (a domain loaded in bulk searched slowly until then). They are RunSQL because an
OpClass expression index needs django.contrib.postgres in INSTALLED_APPS, which this project
does not install."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

TRIGRAM_COLUMNS = ("local_part", "first_name", "last_name")


def _create(column: str) -> str:
    return (
        f'CREATE INDEX IF NOT EXISTS "mailbox_{column}_trgm" ON "domains_mailbox" '
        f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) WITH (fastupdate = off)'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0009_dkim_keys"),
    ]

    operations = [
        # Also created by archiving's search indexes; whichever migration runs first creates it.
        TrigramExtension(),
        migrations.AddIndex(
            model_name="mailbox",
            index=models.Index(
                fields=["domain", "last_name", "first_name", "local_part"], name="mailbox_domain_name_idx"
            ),
        ),
        *(
            migrations.RunSQL(_create(column), f'DROP INDEX IF EXISTS "mailbox_{column}_trgm"')
            for column in TRIGRAM_COLUMNS
        ),
    ]
