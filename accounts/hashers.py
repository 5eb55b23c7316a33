from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class MailArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2id hasher with costs from settings.

    Same algorithm name ("argon2") and encoding as Django's, so Dovecot verifies the hash as
    {ARGON2ID} followed by the part after "argon2" (see the mailstore SQL views).
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM
