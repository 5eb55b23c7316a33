"""Idempotent demo data for `make run`: a customer with two sites, two domains with their
postmasters, a Manager, several mailboxes, a staff login. Known passwords, printed at the end."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from billing.models import PriceList
from billing.services import price_list_save
from core.portals import REGISTRY as PORTAL_REGISTRY
from core.portals import portal_url
from domains import services
from domains.models import Customer, Domain, Mailbox, Manager
from domains.services import customer_user_create

DEMO_PASSWORD = "Demo-Password-2026"  # noqa: S105 - demo data only, printed to the operator
STAFF_LOGIN = "admin"
MANAGER_LOGIN = "manager.acme"
CUSTOMER_LOGIN = "billing.acme"
DEMO_PRICES = {
    "mailbox_extra": "2.50",
    "quota_25": "1.50",
    "quota_50": "3.00",
    "quota_100": "5.00",
    "send_2000": "4.00",
    "send_5000": "9.00",
    "archive": "3.50",
    "timemachine_restore": "45.00",
    "intervention": "60.00",
}
DOMAINS = ["acme.test", "acme-group.test"]
MAILBOXES = [
    ("acme.test", "mario.rossi", "Mario", "Rossi"),
    ("acme.test", "giulia.bianchi", "Giulia", "Bianchi"),
    ("acme.test", "luca.verdi", "Luca", "Verdi"),
    ("acme-group.test", "anna.neri", "Anna", "Neri"),
    ("acme-group.test", "info", "Info", "Acme Group"),
]


class Command(BaseCommand):
    help = "Load idempotent demo data and print the portal URLs and demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--print-only", action="store_true", help="only print URLs and logins")

    def handle(self, *args, print_only: bool = False, **options):
        # Known passwords for a staff login and every demo mailbox: never on a production instance.
        if not settings.DEBUG:
            raise CommandError(
                "demo_data creates logins with a published password; it runs only in development "
                "(MAILSUITE_DEBUG=1). Nothing was loaded."
            )
        if not print_only:
            with transaction.atomic():
                self._load()
        self._print()

    def _load(self) -> None:
        User = get_user_model()
        if not User.objects.filter(username=STAFF_LOGIN).exists():
            User.objects.create_superuser(
                STAFF_LOGIN, "admin@mail.localhost", DEMO_PASSWORD, kind=User.Kind.STAFF
            )
        if not PriceList.objects.exists():
            first_of_month = timezone.localdate().replace(day=1)
            price_list_save(
                actor=None,
                valid_from=first_of_month,
                note="demo",
                **{k: Decimal(v) for k, v in DEMO_PRICES.items()},
            )
        customer = Customer.objects.filter(vat_number="IT01234567890").first()
        if customer is None:
            customer = services.customer_create(
                company_name="ACME S.p.A.",
                vat_number="IT01234567890",
                legal_rep_name="Carla Acme",
                legal_rep_email="legal@acme.test",
            )
        if not customer.sites.exists():
            services.site_create(
                customer=customer, name="Milano HQ", profile=Decimal("2.0"), voice_channels=30
            )
            services.site_create(customer=customer, name="Torino", profile=Decimal("1.0"), voice_channels=10)
        for name in DOMAINS:
            domain = Domain.objects.filter(name=name).first()
            if domain is None:
                domain = services.domain_register(customer=customer, name=name)
            postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True)
            if postmaster.user.must_change_password:
                # Demo only: a known password, still to be changed at first login.
                services.mailbox_set_password(mailbox=postmaster, password=DEMO_PASSWORD, must_change=True)
        for domain_name, local, first, last in MAILBOXES:
            domain = Domain.objects.get(name=domain_name)
            if not Mailbox.objects.filter(domain=domain, local_part=local).exists():
                services.mailbox_create(
                    domain=domain, local_part=local, password=DEMO_PASSWORD, first_name=first, last_name=last
                )
        if not Manager.objects.filter(user__username=MANAGER_LOGIN).exists():
            services.manager_create(
                customer=customer,
                username=MANAGER_LOGIN,
                password=DEMO_PASSWORD,
                email="it@acme.test",
                domains=Domain.objects.filter(name__in=DOMAINS),
            )

        if not User.objects.filter(username=CUSTOMER_LOGIN).exists():
            customer_user_create(
                customer=customer,
                username=CUSTOMER_LOGIN,
                password=DEMO_PASSWORD,
                email="billing@acme.test",
                can_configure_mail=True,
            )

    def _print(self) -> None:
        w = self.stdout.write
        w("")
        w("mailsuite is starting. Portals:")
        for spec in PORTAL_REGISTRY:
            label = f"{spec.title} ({spec.description})"
            w(f"  {label:60s} {portal_url(spec.name, spec.home)}")
        ports = settings.MAIL_PORTS
        w(f"  IMAP (TLS) 127.0.0.1:{ports['imaps']}   POP3 (TLS) 127.0.0.1:{ports['pop3s']}")
        w(
            f"  SMTP MX 127.0.0.1:{ports['smtp_mx']}   submission 465-style 127.0.0.1:{ports['smtps']}"
            f"   587-style 127.0.0.1:{ports['submission']}"
        )
        w("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        w(f"  back office     {STAFF_LOGIN}  (sets up two-factor authentication at first login)")
        w(f"  manager         {MANAGER_LOGIN}")
        w(f"  customer area   {CUSTOMER_LOGIN}  (billing monitor)")
        for name in DOMAINS:
            w(f"  postmaster      postmaster@{name}  (must change the password at first login)")
        for domain_name, local, *_ in MAILBOXES:
            w(f"  mailbox         {local}@{domain_name}")
        w("Ctrl-C stops everything.")
        w("")
