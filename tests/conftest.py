import pytest

# The shared Dovecot of the test session (fixtures `mailplane`, `dovecot`, `mailbox_factory`).
# The project's SMTP server and a relay sink (fixtures `smtpd`, `relay_sink`, `smtp_isolation`).
# The suite's rspamd (fixtures `rspamd`, `rspamd_server`, `rspamd_ports`).
pytest_plugins = [
    "tests.protocol.mailplane",
    "tests.mta.smtpd_plugin",
    "tests.protocol.dnsserver",
    "tests.protocol.filterplane",
]


@pytest.fixture(autouse=True)
def _dkim_keys_on_need(settings):
    """No DKIM key at domain registration (an RSA key takes a noticeable time and most tests
    register several domains): keys are made on first need (the DNS page), 1024-bit. The DKIM
    tests turn registration keys back on, at 2048 bits."""
    settings.DKIM_KEYS_AT_REGISTRATION = False
    settings.DKIM_KEY_BITS = 1024


@pytest.fixture(autouse=True)
def _fast_argon2(settings):
    """Cheaper Argon2 in tests; Dovecot reads the parameters from each hash, so logins still work."""
    settings.ARGON2_TIME_COST = 1
    settings.ARGON2_MEMORY_COST = 8192
    settings.ARGON2_PARALLELISM = 1


@pytest.fixture(autouse=True)
def _no_filtering_by_default(settings):
    """The MX asks rspamd only in the tests that start it (fixture `rspamd`)."""
    settings.RSPAMD_FILTERING = False
