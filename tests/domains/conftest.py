# The credential checks and 2FA rules moved here from accounts (domains.mailauth,
# domains.twofactor); their tests use the same fixtures as the accounts tests.
from tests.accounts.conftest import bruteforce_prefix, domain, mailbox, redis_client, redis_down  # noqa: F401
