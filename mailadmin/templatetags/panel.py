from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext as _

from domains.selectors import domains_for
from portalkit.branding import brand_for
from portalkit.icons import icon_html

register = template.Library()


@register.filter
def bytes_human(value) -> str:
    """Django's filesizeformat: the active language's decimal separator ("12,0 GB" in Italian),
    as the panel's messages and the webmail write sizes."""
    return filesizeformat(value or 0)


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label: str) -> str:
    """A column header that sorts by `key`, toggling the direction, keeping the search."""
    request = context["request"]
    current = context.get("sort", "")
    query = request.GET.copy()
    query.pop("page", None)
    new = f"-{key}" if current == key else key
    query["sort"] = new
    arrow = ""
    if current == key:
        arrow = icon_html("chevron-up")
    elif current == f"-{key}":
        arrow = icon_html("chevron-down")
    return format_html(
        '<a href="?{}" aria-label="{}">{} {}</a>',
        query.urlencode(),
        _("Sort by %(column)s") % {"column": label},
        label,
        arrow,
    )


@register.simple_tag(takes_context=True)
def page_query(context, number: int) -> str:
    query = context["request"].GET.copy()
    query["page"] = number
    return query.urlencode()


@register.simple_tag(takes_context=True)
def panel_brand(context):
    """The brand in the panel's header: the domain of the page, else the user's only domain
    (a Postmaster, a Manager of one domain); None for several domains (the panel's own name)."""
    domain = context.get("domain")
    if domain is None:
        request = context["request"]
        domains = list(domains_for(user=request.user)[:2]) if request.user.is_authenticated else []
        domain = domains[0] if len(domains) == 1 else None
    return brand_for(domain, portal="mailadmin") if domain is not None else None
