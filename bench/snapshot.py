"""Time Machine snapshots (mailstore.snapshots.HardlinkSnapshots) on plain Maildirs.

1. One mailbox of --messages (default 20,000) messages in INBOX and two folders, with
   Dovecot's own files (uidlist, index, keywords, subscriptions): the snapshot against
   `cp -al` of the same Maildir, median of --repeat runs each, and their ratio (target <= 1.5).
2. A night: --mailboxes (default 200) mailboxes of --night-messages (default 2,000) messages,
   one snapshot each, one after the other as one worker process takes them (or --workers
   processes in parallel): total time and the per-mailbox p50/p95.

3. A restore of --restore-messages (default 10,000) messages: bench/restore.py, run as a process
   of its own (it needs a scratch database and a private Dovecot): the restore against a bare
   MULTIAPPEND of the same messages, messages/s (target >= 1,000) and CPU per message. Its
   Dovecot reads the scratch database as a role of its own (mailsuite_dovecot_bench_restore),
   never the shared mailsuite_dovecot role of other runs on the same PostgreSQL cluster.

Parts 1 and 2 happen in a scratch directory under /tmp (removed at the end); no database, no
Dovecot: the file work is what is measured. Messages are distinct files of about 2 KB, named
as Dovecot names them.

    .venv/bin/python bench/snapshot.py [--messages 20000] [--mailboxes 200] [--night-messages 2000]
        [--restore-messages 10000] [--skip-night] [--skip-snapshot] [--skip-restore]
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")

from timing import percentile  # noqa: E402

from mailstore.snapshots import HardlinkSnapshots  # noqa: E402

BODY = b"From: a@example.net\r\nTo: b@example.test\r\nSubject: bench\r\n\r\n" + b"x" * 1900 + b"\r\n"
DAY = datetime.date(2026, 12, 1)


def make_maildir(home: Path, messages: int) -> None:
    """INBOX with 80% of the messages, Archive and Sent 10% each, and Dovecot's files."""
    root = home / "Maildir"
    folders = {"": int(messages * 0.8)}
    folders[".Archive"] = (messages - folders[""]) // 2
    folders[".Sent"] = messages - folders[""] - folders[".Archive"]
    n = 0
    for folder, count in folders.items():
        base = root / folder if folder else root
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        uidlist = ["3 V1700000000 N%d G0" % (count + 1)]
        for i in range(count):
            n += 1
            name = f"1700{n:06d}.M{n}P1.bench,S={len(BODY)},W={len(BODY) + 3}"
            sub = "new" if i % 50 == 0 else "cur"
            filename = name if sub == "new" else name + ":2,S"
            (base / sub / filename).write_bytes(BODY)
            uidlist.append(f"{i + 1} :{name}")
        (base / "dovecot-uidlist").write_text("\n".join(uidlist) + "\n")
        (base / "dovecot.index").write_bytes(os.urandom(64 * 1024))
        (base / "dovecot.index.log").write_bytes(os.urandom(32 * 1024))
        (base / "dovecot.index.cache").write_bytes(os.urandom(256 * 1024))
        if folder:
            (base / "maildirfolder").write_bytes(b"")
    (root / "dovecot-keywords").write_text("0 $Forwarded\n")
    (root / "subscriptions").write_text("Archive\nSent\n")


def cp_al(source: Path, target: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", "-al", str(source), str(target)], check=True)  # noqa: S603, S607
    return time.perf_counter() - start


def one_mailbox(scratch: Path, messages: int, repeat: int) -> None:
    home = scratch / "mail" / "1"
    started = time.perf_counter()
    make_maildir(home, messages)
    print(f"1. one mailbox of {messages} messages (built in {time.perf_counter() - started:.1f} s)")
    cp_times, snap_times = [], []
    snapshots = HardlinkSnapshots(scratch / "snapshots")
    for i in range(repeat):
        target = scratch / f"cp-{i}"
        cp_times.append(cp_al(home / "Maildir", target))
        shutil.rmtree(target)
        day = DAY + datetime.timedelta(days=i)
        start = time.perf_counter()
        result = snapshots.take(mailbox_id=1, day=day, home=home)
        snap_times.append(time.perf_counter() - start)
        assert result.messages == messages, result
        snapshots.remove(mailbox_id=1, day=day)
    cp_med, snap_med = statistics.median(cp_times), statistics.median(snap_times)
    print(f"   cp -al             median {cp_med:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in cp_times)})")
    print(
        f"   snapshot           median {snap_med:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in snap_times)})"
    )
    print(f"   ratio snapshot / cp -al = {snap_med / cp_med:.2f}  (target <= 1.5)")


def _take(args: tuple[str, str, int]) -> float:
    snapshot_root, home, mailbox_id = args
    start = time.perf_counter()
    HardlinkSnapshots(Path(snapshot_root)).take(mailbox_id=mailbox_id, day=DAY, home=Path(home))
    return time.perf_counter() - start


def night(scratch: Path, mailboxes: int, messages: int, workers: int) -> None:
    started = time.perf_counter()
    homes = []
    for mailbox_id in range(1, mailboxes + 1):
        home = scratch / "night" / str(mailbox_id)
        make_maildir(home, messages)
        homes.append((str(scratch / "night-snapshots"), str(home), mailbox_id))
    print(
        f"2. a night: {mailboxes} mailboxes x {messages} messages "
        f"(built in {time.perf_counter() - started:.1f} s), {workers} worker process(es)"
    )
    start = time.perf_counter()
    if workers == 1:
        per = [_take(args) for args in homes]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            per = list(pool.map(_take, homes))
    total = time.perf_counter() - start
    print(
        f"   total {total:.2f} s; per mailbox p50 {percentile(per, 50) * 1000:.0f} ms, "
        f"p95 {percentile(per, 95) * 1000:.0f} ms, max {max(per) * 1000:.0f} ms"
    )


def restore(messages: int) -> None:
    """Part 3: bench/restore.py in a process of its own; its figures are printed as they come."""
    print(f"3. a restore of {messages} messages (bench/restore.py)", flush=True)
    env = dict(os.environ)
    env.setdefault("MAILSUITE_DOVECOT_DB_USER", "mailsuite_dovecot_bench_restore")
    result = subprocess.run(  # noqa: S603 - our own bench
        [sys.executable, str(ROOT / "bench" / "restore.py"), "--messages", str(messages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # Dovecot's log lines (its private instance logs to stderr) are left out.
    for line in result.stdout.splitlines():
        print(f"   {line}")
    if result.returncode:
        print(result.stderr[-3000:])
        raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--night-messages", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--restore-messages", type=int, default=10_000)
    parser.add_argument("--skip-snapshot", action="store_true")
    parser.add_argument("--skip-night", action="store_true")
    parser.add_argument("--skip-restore", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-snapshot-", dir="/tmp"))
    try:
        if not args.skip_snapshot:
            one_mailbox(scratch, args.messages, args.repeat)
        if not args.skip_night:
            night(scratch, args.mailboxes, args.night_messages, args.workers)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not args.skip_restore:
        restore(args.restore_messages)


if __name__ == "__main__":
    main()
