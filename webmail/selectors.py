"""Reads of the webmail's rows, scoped to the acting user."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import AppPassword
from domains.models import Domain, Mailbox
from mailstore.models import QuotaOverride, QuotaUsage
from webmail.models import Preferences


def mailbox_of(*, user: Any) -> Mailbox | None:
    """The user's own active mailbox of an active domain (the only one the webmail opens)."""
    return (
        Mailbox.objects.select_related("domain")
        .filter(user=user, is_active=True, domain__is_active=True)
        .first()
    )


def mailbox_for_request(*, user: Any) -> Mailbox | None:
    """The user's mailbox (active or not) with its domain, their page size and conversation
    switch (`webmail_page_size`, `webmail_threaded`, None without preferences) and the space
    used (`webmail_used_bytes`, from Dovecot's quota_clone row, None before Dovecot wrote one)
    and allowed (`webmail_quota_bytes`): what a webmail request checks and shows besides the
    login itself, read fresh in one query and never cached, so a deactivation or a 2FA
    requirement applies to the next request. (The portal check's domains.twofactor.requires_2fa
    finds this mailbox and domain already loaded; it still asks for the confirmed authenticator.)

    Plain SQL built from the models' own metadata: the same query through the ORM
    (select_related plus annotated subqueries) cost ~1.7 ms of Python per request against
    ~0.3 ms here (bench/webmail_list.py), and this runs on every webmail request."""
    sql, mailbox_fields, domain_fields = _request_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    n, m = len(mailbox_fields), len(domain_fields)
    mailbox = Mailbox.from_db(connection.alias, mailbox_fields, row[:n])
    domain = Domain.from_db(connection.alias, domain_fields, row[n : n + m])
    Mailbox._meta.get_field("domain").set_cached_value(mailbox, domain)
    mailbox.webmail_page_size, mailbox.webmail_threaded, mailbox.webmail_used_bytes, override = row[n + m :]
    mailbox.webmail_quota_bytes = override or mailbox.quota_bytes
    return mailbox


@functools.cache
def _request_query() -> tuple[str, list[str], list[str]]:
    def columns(model) -> tuple[list[str], str]:
        fields = model._meta.concrete_fields
        table = connection.ops.quote_name(model._meta.db_table)
        return [f.attname for f in fields], ", ".join(
            f"{table}.{connection.ops.quote_name(f.column)}" for f in fields
        )

    mailbox_fields, mailbox_cols = columns(Mailbox)
    domain_fields, domain_cols = columns(Domain)
    q = connection.ops.quote_name
    mailbox_t, domain_t = q(Mailbox._meta.db_table), q(Domain._meta.db_table)
    prefs_t = q(Preferences._meta.db_table)
    usage_t, override_t = q(QuotaUsage._meta.db_table), q(QuotaOverride._meta.db_table)
    # Only quoted identifiers from the models' metadata are interpolated; the user id is a
    # parameter. Dovecot's quota_clone row is keyed by the login of mailstore_mailuser.
    sql = (
        f"SELECT {mailbox_cols}, "  # noqa: S608 - identifiers only, see above
        f"{domain_cols}, "
        f"{prefs_t}.page_size, {prefs_t}.threaded, "
        f"(SELECT {usage_t}.bytes FROM {usage_t} "
        f"WHERE {usage_t}.username = {mailbox_t}.local_part || '@' || {domain_t}.name), "
        f"(SELECT {override_t}.bytes FROM {override_t} WHERE {override_t}.mailbox_id = {mailbox_t}.id) "
        f"FROM {mailbox_t} JOIN {domain_t} ON {domain_t}.id = {mailbox_t}.domain_id "
        f"LEFT JOIN {prefs_t} ON {prefs_t}.user_id = {mailbox_t}.user_id "
        f"WHERE {mailbox_t}.user_id = %s"
    )
    return sql, mailbox_fields, domain_fields


def preferences_for(*, user: Any) -> Preferences:
    return Preferences.objects.filter(user=user).first() or Preferences(user=user)


def visible_app_passwords(*, user: Any) -> QuerySet[AppPassword]:
    """The user's active app passwords, without the webmail's own session tokens."""
    return (
        AppPassword.objects.filter(user=user, kind=AppPassword.Kind.USER, revoked_at__isnull=True)
        .order_by("-created_at", "-id")
    )
