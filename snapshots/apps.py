from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SnapshotsConfig(AppConfig):
    """The Time Machine's domain code: the nightly snapshot of every active mailbox (rows,
    services, tasks, selectors). The files themselves are mailstore's (mailstore.snapshots)."""

    name = "snapshots"
    verbose_name = _("Snapshots")
