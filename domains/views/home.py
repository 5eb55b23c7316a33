from django.shortcuts import render

from domains.selectors import domain_summaries_for
from domains.views.common import panel_view


@panel_view
def home(request):
    return render(request, "mailadmin/home.html", {"summaries": domain_summaries_for(user=request.user)})
