"""The Time Machine portal: the mailbox as it was on each snapshot day, read-only.

- portal.py: the portal's spec for the shared login (portalkit.urls.login_urlpatterns).
- common.py: what every view shares (timemachine_view: login, the user's own mailbox, the day
  checked against their snapshots; day_session: the read-only mail-store session of that day).
- browse.py: the day picker, folders, lists, the reader, downloads and folder exports.
- restore.py (the restore, another module): builds on common.py the same way."""

from timemachine.views.portal import TIMEMACHINE

__all__ = ["TIMEMACHINE"]
