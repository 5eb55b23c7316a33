"""Junk: the global Sieve script that files spam in Junk, and the IMAPSieve scripts that teach
the filter when a person moves a message into or out of Junk (rendered by mailstore.dovecot).

- Delivery (LMTP): `sieve_before` runs junk.sieve before the mailbox's own script: a message the
  MX marked `X-Spam: Yes` (mta.filtering, which removes any such header a sender wrote) goes to
  Junk and stops there (no vacation reply, no redirect of spam).
- IMAP (imap_sieve + sieve_extprograms): a COPY or MOVE into Junk (not an APPEND: a restore
  or an import writes Junk back with APPEND, and that is nobody's judgement) pipes the
  message to `rspamd-learn spam`; a COPY or MOVE out of Junk, to anywhere but Trash, to
  `rspamd-learn ham`. The program POSTs it to rspamd's controller (/learnspam, /learnham). It
  runs synchronously inside the IMAP command (so the move returns once rspamd has learned),
  and its failure never fails the move: learning is best effort, the mail is the user's.
"""

from __future__ import annotations

from pathlib import Path

SIEVE_DIR = "sieve"  # inside the Dovecot directory, owned by vmail (Pigeonhole writes .svbin files)
PROGRAM_DIR = "sieve-bin"
JUNK = "Junk"
LEARN_PROGRAM = "rspamd-learn"

JUNK_SIEVE = f"""# Rendered by mailstore.dovecot: mail the MX marked as spam goes to {JUNK}.
require ["fileinto", "mailbox"];
if header :is "X-Spam" "Yes" {{
  fileinto :create "{JUNK}";
  stop;
}}
"""

LEARN_SPAM_SIEVE = f"""# Rendered by mailstore.dovecot: a message put into {JUNK} teaches the filter spam.
require ["vnd.dovecot.pipe", "copy", "imapsieve"];
pipe :copy "{LEARN_PROGRAM}" ["spam"];
"""

LEARN_HAM_SIEVE = (
    """# Rendered by mailstore.dovecot: a message taken out of Junk teaches the filter ham
# (deleting it, a move to Trash, teaches nothing).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if string "${mailbox}" "Trash" {
  stop;
}
pipe :copy "%s" ["ham"];
"""
    % LEARN_PROGRAM
)

LEARN_PROGRAM_SCRIPT = """#!/usr/bin/python3
# Rendered by mailstore.dovecot: Dovecot's IMAPSieve pipes a message here when it is moved into
# (spam) or out of (ham) Junk; it is POSTed to rspamd's controller. Exit 0 even when rspamd
# refuses or is down: a learning failure must never fail the user's move.
import sys, urllib.error, urllib.request
URL = {url!r}
PASSWORD = {password!r}
kind = sys.argv[1] if len(sys.argv) > 1 else ""
if kind not in ("spam", "ham"):
    sys.exit(0)
headers = {{"Password": PASSWORD}} if PASSWORD else {{}}
request = urllib.request.Request(URL.rstrip("/") + "/learn" + kind, data=sys.stdin.buffer.read(),
                                 headers=headers, method="POST")
try:
    urllib.request.urlopen(request, timeout=20).read()
except urllib.error.HTTPError as exc:
    print("rspamd-learn %s: %s %s" % (kind, exc.code, exc.read()[:200]), file=sys.stderr)
except Exception as exc:
    print("rspamd-learn %s: %s" % (kind, exc), file=sys.stderr)
"""


def scripts(*, controller_url: str, password: str) -> dict[str, str]:
    """The Sieve scripts (SIEVE_DIR) and, when a controller URL is set, the learn program."""
    files = {f"{SIEVE_DIR}/junk.sieve": JUNK_SIEVE}
    if controller_url:
        files[f"{SIEVE_DIR}/learn-spam.sieve"] = LEARN_SPAM_SIEVE
        files[f"{SIEVE_DIR}/learn-ham.sieve"] = LEARN_HAM_SIEVE
        files[f"{PROGRAM_DIR}/{LEARN_PROGRAM}"] = LEARN_PROGRAM_SCRIPT.format(
            url=controller_url, password=password
        )
    return files


def plugin_settings(directory: Path, *, learning: bool) -> str:
    """Lines of Dovecot's plugin {} block."""
    sieve = directory / SIEVE_DIR
    lines = [f"  sieve_before = {sieve / 'junk.sieve'}"]
    if learning:
        lines += [
            "  sieve_plugins = sieve_imapsieve sieve_extprograms",
            # The pipe extension for the global (administrator's) scripts only: a user's
            # own script cannot run programs.
            "  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment",
            f"  sieve_pipe_bin_dir = {directory / PROGRAM_DIR}",
            f"  imapsieve_mailbox1_name = {JUNK}",
            "  imapsieve_mailbox1_causes = COPY",
            f"  imapsieve_mailbox1_before = file:{sieve / 'learn-spam.sieve'}",
            "  imapsieve_mailbox2_name = *",
            f"  imapsieve_mailbox2_from = {JUNK}",
            "  imapsieve_mailbox2_causes = COPY",
            f"  imapsieve_mailbox2_before = file:{sieve / 'learn-ham.sieve'}",
        ]
    return "\n".join(lines)
