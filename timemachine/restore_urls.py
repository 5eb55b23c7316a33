"""URLs of the Time Machine's restore pages (included by timemachine.urls)."""

from django.urls import path

from timemachine.views import restore

restore_urlpatterns = [
    path("restore/", restore.restore, name="restore"),
    path("restore/<int:pk>/", restore.restore_progress, name="restore_progress"),
    path("restore/<int:pk>/status/", restore.restore_status, name="restore_status"),
    path("deleted/", restore.deleted, name="deleted"),
]
