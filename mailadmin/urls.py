from django.urls import path

from mailadmin.views import (
    account,
    addresses,
    archive_import,
    archive_reads,
    delegates,
    deleted_archives,
    dns,
    domain,
    home,
    mailboxes,
    timemachine,
)
from mailadmin.views.common import MAILADMIN
from portalkit.branding import brand_urlpatterns
from portalkit.urls import login_urlpatterns

app_name = "mailadmin"

urlpatterns = [
    *login_urlpatterns(MAILADMIN),
    *brand_urlpatterns(),
    path("", home.home, name="home"),
    path("account/", account.account, name="account"),
    path("account/password/", account.account_password, name="account_password"),
    path("account/security/", account.account_security, name="account_security"),
    path("delegates/", delegates.delegate_list, name="delegates"),
    path("delegates/new/", delegates.delegate_create, name="delegate_create"),
    path("delegates/<int:pk>/", delegates.delegate_edit, name="delegate_edit"),
    path("delegates/<int:pk>/delete/", delegates.delegate_delete, name="delegate_delete"),
    path("d/<str:domain_name>/", mailboxes.mailbox_list, name="mailboxes"),
    path("d/<str:domain_name>/new/", mailboxes.mailbox_create, name="mailbox_create"),
    path("d/<str:domain_name>/m/<int:pk>/", mailboxes.mailbox_detail, name="mailbox"),
    path("d/<str:domain_name>/m/<int:pk>/profile/", mailboxes.mailbox_profile, name="mailbox_profile"),
    path("d/<str:domain_name>/m/<int:pk>/password/", mailboxes.mailbox_password, name="mailbox_password"),
    path("d/<str:domain_name>/m/<int:pk>/quota/", mailboxes.mailbox_quota, name="mailbox_quota"),
    path("d/<str:domain_name>/m/<int:pk>/security/", mailboxes.mailbox_security, name="mailbox_security"),
    path(
        "d/<str:domain_name>/m/<int:pk>/send-limit/", mailboxes.mailbox_send_limit, name="mailbox_send_limit"
    ),
    path(
        "d/<str:domain_name>/m/<int:pk>/suspension/", mailboxes.mailbox_suspension, name="mailbox_suspension"
    ),
    path(
        "d/<str:domain_name>/m/<int:pk>/sending-hold/",
        mailboxes.mailbox_sending_release,
        name="mailbox_sending_release",
    ),
    path("d/<str:domain_name>/m/<int:pk>/export/", mailboxes.mailbox_export, name="mailbox_export"),
    path(
        "d/<str:domain_name>/m/<int:pk>/devices/<int:device_pk>/",
        mailboxes.mailbox_device,
        name="mailbox_device",
    ),
    path("d/<str:domain_name>/m/<int:pk>/archive/", mailboxes.mailbox_archive, name="mailbox_archive"),
    path(
        "d/<str:domain_name>/m/<int:pk>/archive/retention/",
        mailboxes.mailbox_archive_retention,
        name="mailbox_archive_retention",
    ),
    path(
        "d/<str:domain_name>/m/<int:pk>/archive/import/",
        archive_import.import_wizard,
        name="mailbox_archive_import",
    ),
    path(
        "d/<str:domain_name>/m/<int:pk>/archive/import/<int:job>/",
        archive_import.import_progress,
        name="mailbox_archive_import_progress",
    ),
    path(
        "d/<str:domain_name>/m/<int:pk>/archive/import/<int:job>/status/",
        archive_import.import_status_json,
        name="mailbox_archive_import_status",
    ),
    path("d/<str:domain_name>/m/<int:pk>/delete/", mailboxes.mailbox_delete, name="mailbox_delete"),
    path("d/<str:domain_name>/addresses/", addresses.address_list, name="addresses"),
    path("d/<str:domain_name>/addresses/new/", addresses.address_create, name="address_create"),
    path("d/<str:domain_name>/addresses/<int:pk>/", addresses.address_edit, name="address_edit"),
    path("d/<str:domain_name>/addresses/<int:pk>/delete/", addresses.address_delete, name="address_delete"),
    path("d/<str:domain_name>/security/", domain.domain_security, name="domain_security"),
    path("d/<str:domain_name>/dns/", dns.domain_dns, name="domain_dns"),
    path("d/<str:domain_name>/branding/", domain.domain_branding, name="domain_branding"),
    path("d/<str:domain_name>/audit/", domain.audit_log, name="audit_log"),
    path("d/<str:domain_name>/archive-reads/", archive_reads.archive_reads, name="archive_reads"),
    path("d/<str:domain_name>/deleted-archives/", deleted_archives.deleted_archives, name="deleted_archives"),
    path("d/<str:domain_name>/access-log/", domain.access_log, name="access_log"),
    path("d/<str:domain_name>/tracemail/", domain.tracemail, name="tracemail"),
    path("d/<str:domain_name>/restores/", timemachine.restore_list, name="restores"),
    path("d/<str:domain_name>/deleted-mailboxes/", timemachine.deleted_mailboxes, name="deleted_mailboxes"),
]
