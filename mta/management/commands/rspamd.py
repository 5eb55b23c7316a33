from django.core.management.base import BaseCommand, CommandError

from mta import rspamd


class Command(BaseCommand):
    help = "Render the private rspamd configuration from settings and run rspamd in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--render-only", action="store_true", help="Write the configuration and exit.")

    def handle(self, *args, render_only: bool = False, **options):
        try:
            if render_only:
                self.stdout.write(str(rspamd.render()))
                return
            rspamd.run_foreground()
        except rspamd.RspamdError as exc:
            raise CommandError(str(exc)) from exc
