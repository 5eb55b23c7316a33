"""Server time of the control panel's mailbox list for a 360-mailbox domain.

Creates a scratch database (bench_mailsuite_panel, dropped at the end), a customer whose sites
include 360 mailboxes, one domain with 360 mailboxes made by the services, and other domains
bulk-loaded up to --system mailboxes in total (10,000 by default). Then requests the first
page of the list (and a search, and a sort) N times through Django's test client and prints
median and p95, with the bare ORM query of the same 50 rows as a baseline measured in the same
process. Target (issue #4): p95 under 150 ms.

    .venv/bin/python bench/panel_list.py [-n 200] [--system 10000]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_panel")
os.environ.setdefault("MAILSUITE_ARGON2_TIME_COST", "1")
os.environ.setdefault("MAILSUITE_ARGON2_MEMORY_COST", "8192")
os.environ.setdefault("MAILSUITE_ARGON2_PARALLELISM", "1")

import django  # noqa: E402
from timing import percentile, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--system", type=int, default=10_000, help="mailboxes in the whole system")
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from domains import services
    from domains.models import Domain, Mailbox
    from portalkit.session import PORTALS_KEY

    customer = services.customer_create(
        company_name="Bench S.p.A.",
        vat_number="IT99999999999",
        legal_rep_name="Bench",
        legal_rep_email="bench@example.test",
    )
    services.site_create(customer=customer, name="HQ", profile="2.0", voice_channels=60)
    domain = services.domain_register(customer=customer, name="bench.test")
    t0 = time.perf_counter()
    for i in range(359):
        services.mailbox_create(
            domain=domain,
            local_part=f"user{i:03d}",
            password="Bench-Pass-2026-x",  # noqa: S106
            first_name="Nome",
            last_name=f"Cognome{i:03d}",
            quota_tier=8,
        )
    created = time.perf_counter() - t0
    # The rest of the system: other customers' domains, bulk-loaded (rows only).
    others = max(0, args.system - 360)
    hashed = make_password("Bench-Pass-2026-x")
    other_customer = services.customer_create(
        company_name="Others",
        vat_number="IT88888888888",
        legal_rep_name="O",
        legal_rep_email="o@example.test",
    )
    per_domain = 500
    for d in range((others + per_domain - 1) // per_domain):
        other = Domain.objects.create(customer=other_customer, name=f"other{d}.test")
        count = min(per_domain, others - d * per_domain)
        users = User.objects.bulk_create(
            User(username=f"u{j}@other{d}.test", password=hashed, kind="mailbox") for j in range(count)
        )
        Mailbox.objects.bulk_create(
            Mailbox(domain=other, local_part=f"u{j}", user=u) for j, u in enumerate(users)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    postmaster = Mailbox.objects.get(domain=domain, is_postmaster=True).user
    postmaster.must_change_password = False
    postmaster.save(update_fields=["must_change_password"])
    client = Client()
    client.force_login(postmaster)
    session = client.session
    session[PORTALS_KEY] = ["mailadmin"]
    session.save()

    def page(url):
        def go():
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        return go

    def baseline():
        list(Mailbox.objects.filter(domain=domain).order_by("local_part")[:50])

    print(
        f"mailboxes: {Mailbox.objects.filter(domain=domain).count()} in the domain, "
        f"{Mailbox.objects.count()} in the system (359 created by the service in {created:.1f} s)"
    )
    timed(page("/mailadmin/d/bench.test/"), 10)  # warm-up
    timed(baseline, 10)
    base = timed(baseline, args.n)
    b_med, b_p95 = statistics.median(base), percentile(base, 95)
    print(f"{'case':<28} {'median ms':>10} {'p95 ms':>8} {'p95/baseline p95':>17}")
    print(f"{'baseline ORM (50 rows)':<28} {b_med:>10.2f} {b_p95:>8.2f} {1:>17.1f}")
    worst = 0.0
    for label, url in [
        ("list, first page", "/mailadmin/d/bench.test/"),
        ("list, search", "/mailadmin/d/bench.test/?q=cognome12"),
        ("list, sort -last_login p5", "/mailadmin/d/bench.test/?sort=-last_login&page=5"),
    ]:
        times = timed(page(url), args.n)
        med, p95 = statistics.median(times), percentile(times, 95)
        worst = max(worst, p95)
        print(f"{label:<28} {med:>10.2f} {p95:>8.2f} {p95 / b_p95:>17.1f}")
    print(f"target p95 < 150 ms: {'OK' if worst < 150 else 'MISSED'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
