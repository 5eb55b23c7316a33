from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from core.portals import portal
from domains.selectors import domains_for, is_active_delegate
from portalkit.branding import login_branding
from portalkit.decorators import portal_login_required
from portalkit.portal import Portal

PAGE_SIZE = 50


def _may_enter(user) -> bool:
    """Postmasters and Managers of an active domain; Delegates (for My account only: every
    domain page refuses them through domain_for)."""
    return domains_for(user=user).exists() or is_active_delegate(user=user)


_SPEC = portal("mailadmin")
MAILADMIN = Portal(
    name=_SPEC.name,
    title=_SPEC.title,
    may_enter=_may_enter,
    home_url=_SPEC.home,
    branding=login_branding("mailadmin"),  # the domain of ?domain= or of the host name
)

panel_view = portal_login_required("mailadmin", login_url="mailadmin:login")


class FarEndPaginator(Paginator):
    """A Paginator for a long list sorted by the database (the mailboxes of a large domain).

    - The page's primary keys first, in a narrow subquery that PostgreSQL sorts on the table's
      own columns, and the rows with what the list shows (joins, annotations) only for those:
      sorted with its joins, every row of a 10,000-mailbox domain was joined before the sort
      kept 50 (bench/panel_list.py). Still one query: `pk IN (SELECT pk ... LIMIT/OFFSET)`.
    - A page past the middle is read from the other end: the reverse order with the smaller
      offset, the rows turned round (PostgreSQL reads and drops every row an OFFSET skips).

    The queryset's ordering must be total (a unique column last), or the two ends could
    disagree on ties."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet) or not rows.ordered:
            return super().page(number)
        if bottom <= self.count // 2:
            return self._get_page(self._rows(rows, bottom, top), number, self)
        tail = self._rows(rows.reverse(), self.count - top, self.count - bottom)
        tail.reverse()
        return self._get_page(tail, number, self)

    @staticmethod
    def _rows(queryset: QuerySet, bottom: int, top: int) -> list:
        if top <= bottom:
            return []
        return list(queryset.filter(pk__in=queryset.values("pk")[bottom:top]))


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE, *, far_end: bool = False):
    """A page of `queryset`; `far_end`: pages past the middle read from the other end (see
    FarEndPaginator; only for a total ordering)."""
    paginator_class = FarEndPaginator if far_end else Paginator
    return paginator_class(queryset, per_page).get_page(request.GET.get("page"))


def mailbox_url(domain, mailbox) -> str:
    return reverse("mailadmin:mailbox", args=[domain.name, mailbox.pk])
