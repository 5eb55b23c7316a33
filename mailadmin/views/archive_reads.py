"""The Manager's view of what Delegates read in the archives of a domain's mailboxes (issue 13:
every Delegate action is audited, archiving.readlog)."""

from django.shortcuts import render

from archiving.selectors import archive_reads_for
from domains.selectors import domain_for
from mailadmin.views.common import paginate, panel_view


@panel_view
def archive_reads(request, domain_name):
    domain = domain_for(user=request.user, name=domain_name, manager_only=True)
    page = paginate(request, archive_reads_for(user=request.user, domain=domain))
    return render(
        request, "mailadmin/archive_reads.html", {"domain": domain, "page": page, "is_manager": True}
    )
