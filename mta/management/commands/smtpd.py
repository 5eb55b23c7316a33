from django.conf import settings
from django.core.management.base import BaseCommand

from mailstore.tls import ensure_certificate, server_context
from mta.server import SMTPService


class Command(BaseCommand):
    help = "Run the SMTP server: MX, submission with implicit TLS (smtps) and with STARTTLS (submission)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workers", type=int, default=8, help="worker threads for database and LMTP work"
        )

    def handle(self, *args, **options):
        ensure_certificate(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, hostname=settings.MAIL_HOSTNAME)
        service = SMTPService(
            tls_context=server_context(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE),
            max_workers=options["workers"],
        )
        self.stdout.write(
            "smtpd: MX %(smtp_mx)d, Sieve relay %(relay)d, smtps %(smtps)d, "
            "submission %(submission)d on %(host)s"
            % {
                **{k: settings.MAIL_PORTS[k] for k in ("smtp_mx", "relay", "smtps", "submission")},
                "host": settings.MAIL_BIND,
            }
        )
        try:
            service.serve_forever()
        except KeyboardInterrupt:
            pass
