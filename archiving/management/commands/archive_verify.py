"""Check every archive's hash chain and every blob; exit status 1 at the first break found."""

from django.core.management.base import BaseCommand, CommandError

from archiving.verify import archive_verify


class Command(BaseCommand):
    help = "Verify the Archive: every hash chain and every blob. Reports the first break of each archive."

    def handle(self, *args, **options):
        count, breaks = archive_verify()
        for found in breaks:
            self.stderr.write(f"BROKEN {found}")
        if breaks:
            raise CommandError(f"{len(breaks)} break(s) in {count} archive(s) and their blobs")
        self.stdout.write(f"OK: {count} archive(s), every chain and blob verified")
