"""Services of the domains app: the only functions that change customers, sites, domains,
mailboxes, managers and delegates. Each validates, runs in one transaction, writes its audit
row there and schedules side effects with transaction.on_commit."""

from domains.services.addresses import (
    address_create,
    address_delete,
    address_update,
    domain_alias_create,
    domain_alias_delete,
)
from domains.services.branding import domain_set_branding
from domains.services.customers import (
    customer_create,
    customer_update,
    customer_user_create,
    customer_user_set_right,
    site_create,
    site_delete,
    site_update,
)
from domains.services.delegates import delegate_create, delegate_delete, delegate_update
from domains.services.dkim import (
    dkim_key_first,
    dkim_key_rotate,
    dkim_keys_promote,
    dkim_keys_retire,
    domain_dns_check,
)
from domains.services.domains import domain_register, domain_set_require_2fa
from domains.services.mailboxes import (
    mailbox_create,
    mailbox_create_allowed,
    mailbox_delete,
    mailbox_resume,
    mailbox_sending_hold,
    mailbox_sending_release,
    mailbox_set_password,
    mailbox_suspend,
    mailbox_undelete,
    mailbox_update,
)
from domains.services.managers import manager_create, manager_set_domains
from domains.services.quota_warnings import quota_warning_record
from domains.services.security import mailbox_revoke_app_passwords, own_password_change, user_password_change

__all__ = [
    "address_create",
    "address_update",
    "address_delete",
    "domain_alias_create",
    "domain_alias_delete",
    "customer_create",
    "customer_update",
    "customer_user_create",
    "customer_user_set_right",
    "site_create",
    "site_update",
    "site_delete",
    "domain_register",
    "domain_set_require_2fa",
    "dkim_key_first",
    "dkim_key_rotate",
    "dkim_keys_promote",
    "dkim_keys_retire",
    "domain_dns_check",
    "mailbox_create",
    "mailbox_create_allowed",
    "mailbox_update",
    "mailbox_set_password",
    "mailbox_undelete",
    "mailbox_delete",
    "mailbox_suspend",
    "mailbox_resume",
    "mailbox_sending_hold",
    "mailbox_sending_release",
    "manager_create",
    "manager_set_domains",
    "delegate_create",
    "delegate_update",
    "delegate_delete",
    "domain_set_branding",
    "mailbox_revoke_app_passwords",
    "user_password_change",
    "own_password_change",
    "quota_warning_record",
]
