"""/Microsoft-Server-ActiveSync, at the root of the webmail's host (mailsuite.urls)."""

from django.urls import path

from activesync.endpoint import endpoint

app_name = "activesync"

urlpatterns = [
    path("Microsoft-Server-ActiveSync", endpoint, name="endpoint"),
]
