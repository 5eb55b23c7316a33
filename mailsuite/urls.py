"""The root URLconf and the URLconf of each portal's own host, both derived from the one list
of portals (core.portals.REGISTRY).

Development: every portal under its path prefix of one host (urlpatterns below). Production: a
portal with a host name of its own (MAILSUITE_HOST_<PORTAL>) is served at the root of that host
from HOST_URLCONFS[<portal>] (mailsuite.portals.PortalHostMiddleware sets request.urlconf)."""

from types import ModuleType

from django.urls import include, path
from django.views.generic import TemplateView

from core.portals import REGISTRY, PortalSpec, portal_index_links
from mailsuite.health import health
from webmail.views import clientsetup

common_patterns = [
    path("healthz", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Endpoints Dovecot and the project's own services call (auth policy, events); loopback only.
    path("internal/", include("internal.urls", namespace="internal")),
    # Mail-client set-up (public; hosted domains only): Thunderbird on the domain's
    # .well-known and on autoconfig.<domain>, Outlook on autodiscover.<domain> (either case).
    path(
        ".well-known/autoconfig/mail/config-v1.1.xml", clientsetup.thunderbird_autoconfig, name="autoconfig"
    ),
    path("mail/config-v1.1.xml", clientsetup.thunderbird_autoconfig, name="autoconfig_host"),
    path("autodiscover/autodiscover.xml", clientsetup.outlook_autodiscover, name="autodiscover"),
    path("Autodiscover/Autodiscover.xml", clientsetup.outlook_autodiscover, name="autodiscover_outlook"),
    # Autodiscover v2 (JSON): phones' ActiveSync set-up asks it first (Outlook mobile, newer clients).
    path("autodiscover/autodiscover.json", clientsetup.autodiscover_json, name="autodiscover_json"),
    path("autodiscover/autodiscover.json/v1.0/<str:address>", clientsetup.autodiscover_json),
    path("Autodiscover/Autodiscover.json", clientsetup.autodiscover_json),
    path("Autodiscover/Autodiscover.json/v1.0/<str:address>", clientsetup.autodiscover_json),
]


# ActiveSync: phones ask for /Microsoft-Server-ActiveSync at the root of the host they were
# given, the webmail's (development: the one host). Not on the other portals' hosts.
activesync_patterns = [path("", include("activesync.urls", namespace="activesync"))]
HOST_EXTRA_PATTERNS = {"webmail": activesync_patterns}


class IndexView(TemplateView):
    template_name = "index.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "portals": portal_index_links()}


def _portal_patterns(spec: PortalSpec, prefix: str):
    return path(prefix, include(spec.urlconf, namespace=spec.namespace))


urlpatterns = [
    *common_patterns,
    *activesync_patterns,
    path("", IndexView.as_view(), name="index"),
    *(_portal_patterns(spec, spec.prefix) for spec in REGISTRY),
]


def _host_urlconf(spec: PortalSpec) -> ModuleType:
    """A URLconf (Django takes a module object as well as a dotted name) serving one portal at
    the root of its own host, with the common endpoints."""
    module = ModuleType(f"{__name__}.host_{spec.name}", f"URLconf of the host of the portal {spec.name}.")
    extra = HOST_EXTRA_PATTERNS.get(spec.name, [])
    module.urlpatterns = [*common_patterns, *extra, _portal_patterns(spec, "")]
    return module


HOST_URLCONFS: dict[str, ModuleType] = {spec.name: _host_urlconf(spec) for spec in REGISTRY}
