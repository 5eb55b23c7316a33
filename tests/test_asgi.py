"""The ASGI process (mailsuite.asgi) raises its open-files limit: every waiting Ping holds a socket."""

from __future__ import annotations

import os
import resource
import subprocess
import sys


def test_the_asgi_application_raises_the_soft_open_files_limit_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard > 1024  # else there is nothing to raise to

    def systemd_default() -> None:  # the soft limit systemd and Docker give a service
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    script = (
        "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0]); "
        "import mailsuite.asgi; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        preexec_fn=systemd_default,  # noqa: PLW1509 - a single-threaded setrlimit before exec
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
        check=True,
    )
    before, after = (int(line) for line in done.stdout.split())
    assert before == 1024
    assert after == (hard if hard != resource.RLIM_INFINITY else 2**20)
