"""The auth policy endpoint Dovecot calls before every login (POST /internal/auth-policy/?command=allow),
through Django's test client (the full middleware stack), against a baseline measured in the same
process: GET /healthz (the cheapest request the project serves: middleware + one SELECT 1).
Prints median and p95 and the ratio.
Target (moved here from a timed unit test, tests/accounts/test_auth_policy.py): median < 5 ms on
a quiet machine.

    .venv/bin/python bench/auth_policy.py [-n 500]
"""

import argparse
import itertools
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_policy")

import django  # noqa: E402
from timing import percentile, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.INTERNAL_API_TOKEN = key = "bench-internal-key"  # noqa: S105
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        client = Client()
        hashes = (f"{i:08x}" for i in itertools.count())

        def allow():
            body = json.dumps(
                {
                    "login": "mario@example.test",
                    "remote": "198.51.100.7",
                    "device_id": "",
                    "protocol": "imap",
                    "session_id": "s1",
                    "pwhash": next(hashes),
                }
            )
            response = client.post(
                "/internal/auth-policy/?command=allow",
                data=body,
                content_type="application/json",
                headers={"X-API-Key": key},
                REMOTE_ADDR="127.0.0.1",
            )
            assert response.status_code == 200, response.status_code

        def baseline():
            response = client.get("/healthz", REMOTE_ADDR="127.0.0.1")
            assert response.status_code == 200, response.status_code

        timed(allow, 20)
        timed(baseline, 20)
        for label, fn in (("baseline GET /healthz", baseline), ("auth policy allow", allow)):
            times = timed(fn, args.n)
            print(
                f"{label:<30} median {statistics.median(times):6.2f} ms  p95 {percentile(times, 95):6.2f} ms"
            )
            if fn is baseline:
                base_median = statistics.median(times)
            else:
                med = statistics.median(times)
                print(f"ratio median allow/baseline: {med / base_median:.2f}")
                print(f"target median < 5 ms: {'OK' if med < 5 else 'MISSED'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
