from django.shortcuts import redirect, render

from domains.selectors import domain_summaries_for
from mailadmin.views.common import panel_view


@panel_view
def home(request):
    summaries = domain_summaries_for(user=request.user)
    if not summaries:  # a Delegate (or an admin whose domains were all closed): their own account
        return redirect("mailadmin:account_password")
    return render(request, "mailadmin/home.html", {"summaries": summaries})
