from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mta import clamav


class Command(BaseCommand):
    help = "Render the private clamd configuration from settings and run clamd in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--render-only", action="store_true", help="Write the configuration and exit.")
        parser.add_argument(
            "--check", action="store_true", help="Exit 0 if MAILSUITE_CLAMAV is on, 1 if not (make run)."
        )

    def handle(self, *args, render_only: bool = False, check: bool = False, **options):
        if not settings.CLAMAV:
            raise CommandError("ClamAV is off: set MAILSUITE_CLAMAV=1 to run clamd.")
        if check:
            self.stdout.write("ClamAV is on")
            return
        try:
            if render_only:
                self.stdout.write(str(clamav.render()))
                return
            clamav.run_foreground()
        except clamav.ClamavError as exc:
            raise CommandError(str(exc)) from exc
