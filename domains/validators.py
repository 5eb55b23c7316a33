"""Validation of mail names: domain FQDNs and RFC 5321 local parts."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# RFC 5321 dot-atom: atext characters, dots only between atoms. Stored lower-case.
ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
LOCAL_PART_RE = rf"^{ATEXT}+(\.{ATEXT}+)*$"
# One label: letters, digits, hyphens inside; at least two labels; TLD not all digits.
DOMAIN_RE = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"

_local_part = re.compile(LOCAL_PART_RE)
_domain = re.compile(DOMAIN_RE)


def validate_local_part(value: str) -> None:
    if len(value) > 64 or not _local_part.match(value):
        raise ValidationError(
            _(
                "“%(value)s” is not a valid mailbox name: use letters, digits and . _ - + "
                "(no dot at the start or end, no two dots in a row)."
            ),
            code="invalid_local_part",
            params={"value": value},
        )


def validate_domain_name(value: str) -> None:
    if not _domain.match(value):
        raise ValidationError(
            _("“%(value)s” is not a valid domain name (for example: example.com)."),
            code="invalid_domain",
            params={"value": value},
        )
