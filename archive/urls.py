from django.urls import path

from archive.plan_urls import plan_urlpatterns
from archive.views import ARCHIVE, browse, export
from portalkit.branding import brand_urlpatterns
from portalkit.urls import login_urlpatterns

app_name = "archive"

urlpatterns = [
    *login_urlpatterns(ARCHIVE),
    *brand_urlpatterns(),
    path("", browse.home, name="home"),
    path("a/<int:archive_id>/", browse.archive, name="archive"),
    path("a/<int:archive_id>/<int:year>/<str:folder>/", browse.folder, name="folder"),
    path("a/<int:archive_id>/search/", browse.search, name="search"),
    path("a/<int:archive_id>/m/<int:entry_id>/", browse.message, name="message"),
    path("a/<int:archive_id>/m/<int:entry_id>/body/", browse.body, name="body"),
    path("a/<int:archive_id>/m/<int:entry_id>/part/<int:index>/", browse.part, name="part"),
    path("a/<int:archive_id>/m/<int:entry_id>/source/", browse.source, name="source"),
    path("a/<int:archive_id>/m/<int:entry_id>/eml/", browse.eml, name="eml"),
    path("a/<int:archive_id>/export/", export.export, name="export"),
    path("a/<int:archive_id>/exports/<int:job_id>/", export.export_job, name="export_job"),
    path(
        "a/<int:archive_id>/exports/<int:job_id>/<str:token>/", export.export_download, name="export_download"
    ),
    path("a/<int:archive_id>/put-back/", export.put_back, name="put_back"),
    path("a/<int:archive_id>/readers/", browse.readers, name="readers"),
    *plan_urlpatterns,
]
