"""Server time of the control panel's mailbox list, and of the Monitor's data, for a large domain.

Creates a scratch database (bench_mailsuite_panel, dropped at the end), a customer whose sites
include 360 mailboxes, one domain of --domain-size mailboxes (the first 360 made by the services,
the rest bulk-loaded), and other domains bulk-loaded up to --system mailboxes in total. Then
requests the first page of the list, a search, two sorts, a far page and the customer area's
Monitor data N times through Django's test client and prints median, p95 and the SQL queries of
each request, with the bare ORM query of the same 50 rows as a baseline measured in the same
process. Targets: issue #4, p95 under 150 ms for 360 mailboxes in 10,000; issue 15 item 7, p95
under 100 ms for 10,000 mailboxes in one domain and 50,000 in the system, with a query count
that does not grow with the domain (compare the "queries" column with a --domain-size 360 run).

    .venv/bin/python bench/panel_list.py [-n 200] [--domain-size 360] [--system 10000]
    .venv/bin/python bench/panel_list.py --domain-size 10000 --system 50000
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
    parser.add_argument("--domain-size", type=int, default=360, help="mailboxes in the measured domain")
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
    from django.test.utils import CaptureQueriesContext

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
    hashed = make_password("Bench-Pass-2026-x")
    # The rest of the measured domain beyond what the services made, bulk-loaded (rows only).
    extra = max(0, args.domain_size - 360)
    for start in range(0, extra, 5000):
        count = min(5000, extra - start)
        users = User.objects.bulk_create(
            User(username=f"bulk{start + j:05d}@bench.test", password=hashed, kind="mailbox")
            for j in range(count)
        )
        Mailbox.objects.bulk_create(
            Mailbox(
                domain=domain,
                local_part=f"bulk{start + j:05d}",
                user=u,
                first_name="Nome",
                last_name=f"Cognome{(start + j) % 997:03d}",
            )
            for j, u in enumerate(users)
        )
    # The rest of the system: other customers' domains, bulk-loaded (rows only).
    others = max(0, args.system - max(360, args.domain_size))
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
    customer_user = services.customer_user_create(
        customer=customer,
        username="bench.customer",
        password="Bench-Pass-2026-x",  # noqa: S106
        email="c@example.test",
        can_configure_mail=True,
    ).user
    customer_client = Client()
    customer_client.force_login(customer_user)
    session = customer_client.session
    session[PORTALS_KEY] = ["customer"]
    session.save()

    def page(url, who=client):
        def go():
            response = who.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return go

    def queries(url, who=client) -> int:
        with CaptureQueriesContext(connection) as captured:
            page(url, who)()
        return len(captured)

    def baseline():
        list(Mailbox.objects.filter(domain=domain).order_by("local_part")[:50])

    print(
        f"mailboxes: {Mailbox.objects.filter(domain=domain).count()} in the domain, "
        f"{Mailbox.objects.count()} in the system (359 created by the service in {created:.1f} s)"
    )
    target = 150 if args.domain_size <= 360 else 100
    timed(page("/mailadmin/d/bench.test/"), 10)  # warm-up
    timed(baseline, 10)
    base = timed(baseline, args.n)
    b_med, b_p95 = statistics.median(base), percentile(base, 95)
    print(f"{'case':<28} {'median ms':>10} {'p95 ms':>8} {'p95/baseline p95':>17} {'queries':>8}")
    print(f"{'baseline ORM (50 rows)':<28} {b_med:>10.2f} {b_p95:>8.2f} {1:>17.1f} {1:>8}")
    worst = 0.0
    last_page = max(1, (Mailbox.objects.filter(domain=domain).count() + 49) // 50)
    for label, url, who in [
        ("list, first page", "/mailadmin/d/bench.test/", client),
        ("list, search", "/mailadmin/d/bench.test/?q=cognome12", client),
        ("list, sort -last_login p5", "/mailadmin/d/bench.test/?sort=-last_login&page=5", client),
        ("list, sort name, last page", f"/mailadmin/d/bench.test/?sort=name&page={last_page}", client),
        ("monitor data", "/customer/mail/monitor/data/", customer_client),
    ]:
        n_queries = queries(url, who)
        times = timed(page(url, who), args.n)
        med, p95 = statistics.median(times), percentile(times, 95)
        worst = max(worst, p95)
        print(f"{label:<28} {med:>10.2f} {p95:>8.2f} {p95 / b_p95:>17.1f} {n_queries:>8}")
    print(f"target p95 < {target} ms: {'OK' if worst < target else 'MISSED'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
