"""Template tags of the design system: {% load ds %}

{% icon "paperclip" %}                      a decorative icon from static/icons/sprite.svg
{% icon "flag" label=_("Flagged") %}        an icon with an accessible name
{% brand_of domain "mailadmin" as brand %}  a domain's Brand (name, logo URL) on a portal
{% query_with page=3 %}                     this page's query string with `page` (or others) replaced"""

from django import template

from domains.models import Domain
from portalkit.branding import Brand, brand_for
from portalkit.icons import icon_html

register = template.Library()


@register.simple_tag
def icon(name: str, label: str = "", css: str = ""):
    return icon_html(name, label=label, css=css)


@register.simple_tag
def brand_of(domain: Domain | None, portal: str) -> Brand | None:
    return brand_for(domain, portal=portal) if domain is not None else None


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()
