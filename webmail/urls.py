from django.urls import path

from portalkit.branding import brand_urlpatterns
from portalkit.urls import login_urlpatterns
from webmail.views import (
    WEBMAIL,
    auth,
    clientsetup,
    composing,
    contacts,
    conversations,
    export,
    mail,
    preferences,
    reading,
)

app_name = "webmail"

urlpatterns = [
    # Before the shared login views: the webmail's logout also revokes its submission token.
    path("logout/", auth.logout, name="logout"),
    *login_urlpatterns(WEBMAIL),
    *brand_urlpatterns(),
    path("", mail.home, name="home"),
    path("mail/", mail.message_list, name="list"),
    path("mail/actions/", mail.actions, name="actions"),
    path("folders/", mail.folders, name="folders"),
    path("folders/change/", mail.folder_change, name="folder_change"),
    path("message/<int:uid>/", reading.message, name="message"),
    path("message/<int:uid>/body/", reading.body, name="message_body"),
    path("message/<int:uid>/part/<int:index>/", reading.part, name="message_part"),
    path("message/<int:uid>/source/", reading.source, name="message_source"),
    path("message/<int:uid>/eml/", reading.eml, name="message_eml"),
    path("message/<int:uid>/print/", conversations.print_view, name="message_print"),
    path("thread/<int:uid>/", conversations.thread, name="thread"),
    path("settings/conversations/", conversations.conversations_switch, name="conversations"),
    path("compose/", composing.compose_new, name="compose_new"),
    path("compose/suggest/", contacts.suggest, name="suggest"),
    path("compose/<str:cid>/", composing.compose_view, name="compose"),
    path("compose/<str:cid>/autosave/", composing.autosave, name="compose_autosave"),
    path("compose/<str:cid>/upload/", composing.upload, name="compose_upload"),
    path("compose/<str:cid>/inline/<str:aid>/", composing.inline_image, name="compose_inline"),
    path(
        "compose/<str:cid>/attachment/<str:aid>/remove/",
        composing.attachment_remove,
        name="compose_attachment_remove",
    ),
    path("contacts/", contacts.contact_list, name="contacts"),
    path("contacts/new/", contacts.contact_new, name="contact_new"),
    path("contacts/<int:pk>/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path("contacts/add-sender/", contacts.contact_add_sender, name="contact_add_sender"),
    path("contacts/import/", contacts.contacts_import, name="contacts_import"),
    path("contacts/export/", contacts.contacts_export, name="contacts_export"),
    path("images/trust/", contacts.trusted_sender_add, name="trusted_sender_add"),
    path("images/untrust/", contacts.trusted_sender_remove, name="trusted_sender_remove"),
    path("settings/", preferences.identity, name="settings"),
    path("settings/password/", preferences.password, name="settings_password"),
    path("settings/recovery/", preferences.recovery, name="settings_recovery"),
    path("recovery/confirm/<str:token>/", preferences.recovery_confirm, name="recovery_confirm"),
    path("settings/security/", preferences.security, name="settings_security"),
    path("settings/app-passwords/", preferences.app_passwords, name="settings_app_passwords"),
    path("settings/mail-programs.mobileconfig", clientsetup.apple_profile, name="settings_mobileconfig"),
    path(
        "settings/app-passwords/<int:pk>/revoke/",
        preferences.app_password_delete,
        name="settings_app_password_revoke",
    ),
    path("settings/vacation/", preferences.vacation, name="settings_vacation"),
    path("settings/export/", export.export_page, name="settings_export"),
    path("settings/export/mailbox.zip", export.export_download, name="settings_export_download"),
]
