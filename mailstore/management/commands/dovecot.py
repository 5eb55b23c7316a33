from django.core.management.base import BaseCommand, CommandError

from mailstore import dovecot


class Command(BaseCommand):
    help = "Render the private Dovecot configuration from settings and run Dovecot in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--render-only", action="store_true", help="Write the configuration and exit.")

    def handle(self, *args, render_only: bool = False, **options):
        try:
            if render_only:
                self.stdout.write(str(dovecot.render()))
                return
            dovecot.run_foreground()
        except dovecot.DovecotError as exc:
            raise CommandError(str(exc)) from exc
