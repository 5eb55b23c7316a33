"""The DNS records a hosted domain needs, and a live check of each (dnspython).

Records: MX, SPF, one DKIM TXT record per published key, DMARC, and the autoconfig./autodiscover.
names mail programs look up. Each is checked through settings.DNS_RESOLVER ("host:port", empty =
the system's resolver) with a short timeout, all at once in threads, and says present, missing,
wrong (with what is wrong) or not checked (the lookup itself failed). A report is kept in the
cache for settings.DNS_CHECK_CACHE_SECONDS; its texts are made when shown (any language).

State changes that follow a check (a new DKIM key seen in the DNS starts signing) belong to
domains.services.dkim.domain_dns_check, which calls `run` here."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.resolver
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from domains import dkim
from domains.models import DkimKey, Domain

PRESENT, MISSING, WRONG, UNKNOWN = "present", "missing", "wrong", "unknown"


@dataclass(frozen=True)
class RecordCheck:
    kind: str  # MX, SPF, DKIM, DMARC, AUTOCONFIG, AUTODISCOVER
    name: str
    rtype: str
    expected: tuple[str, ...]  # one value per record to publish
    status: str
    problem: str = ""  # a code of PROBLEMS
    detail: str = ""  # what was found that is wrong (a host, a mechanism, a count)
    found: tuple[str, ...] = ()
    selector: str = ""  # DKIM only

    @property
    def ok(self) -> bool:
        return self.status == PRESENT

    @property
    def status_text(self) -> str:
        return {
            PRESENT: _("Correct"),
            MISSING: _("Missing"),
            WRONG: _("Wrong"),
            UNKNOWN: _("Not checked"),
        }[self.status]

    @property
    def message(self) -> str:
        """What is wrong, in the current language ("" when nothing is)."""
        if self.status == MISSING:
            return _("No such record in the DNS yet.")
        text = PROBLEMS.get(self.problem)
        expected = ", ".join(e.rstrip(".") for e in self.expected)
        return text() % {"detail": self.detail, "expected": expected} if text else ""


PROBLEMS = {
    "mx_foreign": lambda: _("Mail for the domain goes to %(detail)s, not to the suite's servers."),
    "mx_extra": lambda: _("It also points to %(detail)s: mail delivered there does not reach the suite."),
    "spf_many": lambda: _("%(detail)s SPF records: receivers treat that as an error. Merge them into one."),
    "spf_not_ours": lambda: _("It does not allow the suite's servers to send: add “%(detail)s”."),
    "spf_all": lambda: _("It allows any server in the world to send as the domain (“%(detail)s”)."),
    "dkim_other_key": lambda: _("It publishes a different key: copy the whole value again."),
    "dkim_revoked": lambda: _("The key is revoked (empty p=)."),
    "dmarc_many": lambda: _("Several DMARC records: receivers ignore them all. Keep one."),
    "dmarc_no_policy": lambda: _("No valid policy: p= must be none, quarantine or reject."),
    "cname_other": lambda: _("It points to %(detail)s instead of %(expected)s."),
    "lookup_failed": lambda: _("The lookup failed (%(detail)s). Try again in a moment."),
}


@dataclass(frozen=True)
class Report:
    domain: str
    checked_at: dt.datetime
    checks: tuple[RecordCheck, ...] = field(default_factory=tuple)

    @property
    def all_present(self) -> bool:
        return all(c.ok for c in self.checks)

    def seen_selectors(self) -> set[str]:
        return {c.selector for c in self.checks if c.kind == "DKIM" and c.ok}


# Lookups -----------------------------------------------------------------------------------------


class _Lookup:
    def __init__(self, kind: str, values: list[str], error: str = ""):
        self.kind = kind  # "ok", "none" (NXDOMAIN or no record of the type), "error"
        self.values = values
        self.error = error


def resolver() -> dns.resolver.Resolver:
    configured = settings.DNS_RESOLVER.strip()
    res = dns.resolver.Resolver(configure=not configured)
    if configured:
        host, _sep, port = configured.rpartition(":")
        res.nameservers = [host or configured]
        res.port = int(port) if host else 53
    res.timeout = res.lifetime = settings.DNS_CHECK_TIMEOUT
    res.cache = None
    return res


def _lookup(name: str, rtype: str) -> _Lookup:
    try:
        answer = resolver().resolve(name, rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return _Lookup("none", [])
    except dns.exception.Timeout:
        return _Lookup("error", [], "timeout")
    except dns.exception.DNSException as exc:
        return _Lookup("error", [], exc.__class__.__name__)
    values = []
    for rdata in answer.rrset or []:
        if rtype == "TXT":
            values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
        elif rtype == "MX":
            values.append(rdata.exchange.to_text().rstrip(".").lower())
        elif rtype == "CNAME":
            values.append(rdata.target.to_text().rstrip(".").lower())
        else:
            values.append(rdata.to_text())
    return _Lookup("ok" if values else "none", values)


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, eq, value = part.partition("=")
        if eq:
            tags[key.strip().lower()] = (
                "".join(value.split()) if key.strip().lower() == "p" else value.strip()
            )
    return tags


# The records ---------------------------------------------------------------------------------


def _failed(base: dict, found: _Lookup) -> RecordCheck:
    return RecordCheck(**base, status=UNKNOWN, problem="lookup_failed", detail=found.error)


def _check_mx(domain: Domain) -> RecordCheck:
    hosts = [h.strip().lower().rstrip(".") for h in settings.DNS_MX_HOSTS if h.strip()]
    base = {
        "kind": "MX",
        "name": domain.name,
        "rtype": "MX",
        "expected": tuple(f"{10 * (i + 1)} {h}." for i, h in enumerate(hosts)),
    }
    found = _lookup(domain.name, "MX")
    if found.kind == "error":
        return _failed(base, found)
    if found.kind == "none":
        return RecordCheck(**base, status=MISSING)
    foreign = [h for h in found.values if h not in hosts]
    if not foreign:
        return RecordCheck(**base, status=PRESENT, found=tuple(found.values))
    problem = "mx_extra" if len(foreign) < len(found.values) else "mx_foreign"
    return RecordCheck(
        **base, status=WRONG, problem=problem, detail=", ".join(foreign), found=tuple(found.values)
    )


def _check_spf(domain: Domain) -> RecordCheck:
    expected = settings.DNS_SPF_RECORD
    base = {"kind": "SPF", "name": domain.name, "rtype": "TXT", "expected": (expected,)}
    found = _lookup(domain.name, "TXT")
    if found.kind == "error":
        return _failed(base, found)
    records = [v for v in found.values if v.lower().split(" ", 1)[0] == "v=spf1"]
    if not records:
        return RecordCheck(**base, status=MISSING)
    if len(records) > 1:
        return RecordCheck(
            **base, status=WRONG, problem="spf_many", detail=str(len(records)), found=tuple(records)
        )
    terms = [t.lower() for t in records[0].split()[1:]]
    for term in terms:
        if term in ("all", "+all"):
            return RecordCheck(**base, status=WRONG, problem="spf_all", detail=term, found=tuple(records))
    wanted = [t.lower() for t in expected.split()[1:] if t.lower().lstrip("+-~?") != "all"]
    for term in wanted:
        if term not in terms and f"+{term}" not in terms:
            return RecordCheck(
                **base, status=WRONG, problem="spf_not_ours", detail=term, found=tuple(records)
            )
    return RecordCheck(**base, status=PRESENT, found=tuple(records))


def _check_dkim(key: DkimKey) -> RecordCheck:
    name = dkim.record_name(key)
    base = {
        "kind": "DKIM",
        "name": name,
        "rtype": "TXT",
        "expected": (dkim.record_value(key),),
        "selector": key.selector,
    }
    found = _lookup(name, "TXT")
    if found.kind == "error":
        return _failed(base, found)
    records = [v for v in found.values if "p=" in v]
    if not records:
        return RecordCheck(**base, status=MISSING)
    keys = [_tags(r).get("p", "") for r in records]
    if key.public_key in keys:
        return RecordCheck(**base, status=PRESENT, found=tuple(records))
    problem = "dkim_revoked" if "" in keys else "dkim_other_key"
    return RecordCheck(**base, status=WRONG, problem=problem, found=tuple(records))


def _check_dmarc(domain: Domain) -> RecordCheck:
    name = f"_dmarc.{domain.name}"
    base = {
        "kind": "DMARC",
        "name": name,
        "rtype": "TXT",
        "expected": (settings.DNS_DMARC_RECORD.format(domain=domain.name),),
    }
    found = _lookup(name, "TXT")
    if found.kind == "error":
        return _failed(base, found)
    records = [v for v in found.values if v.replace(" ", "").lower().startswith("v=dmarc1")]
    if not records:
        return RecordCheck(**base, status=MISSING)
    if len(records) > 1:
        return RecordCheck(**base, status=WRONG, problem="dmarc_many", found=tuple(records))
    if _tags(records[0]).get("p", "").lower() not in ("none", "quarantine", "reject"):
        return RecordCheck(**base, status=WRONG, problem="dmarc_no_policy", found=tuple(records))
    return RecordCheck(**base, status=PRESENT, found=tuple(records))


def _check_cname(domain: Domain, label: str) -> RecordCheck:
    name = f"{label}.{domain.name}"
    target = settings.DNS_CLIENT_SETUP_HOST.strip().lower().rstrip(".")
    base = {"kind": label.upper(), "name": name, "rtype": "CNAME", "expected": (f"{target}.",)}
    found = _lookup(name, "CNAME")
    if found.kind == "error":
        return _failed(base, found)
    if found.kind == "ok":
        if target in found.values:
            return RecordCheck(**base, status=PRESENT, found=tuple(found.values))
        return RecordCheck(
            **base,
            status=WRONG,
            problem="cname_other",
            detail=", ".join(found.values),
            found=tuple(found.values),
        )
    # No CNAME: an address record of the same addresses as the suite's host does as well.
    addresses = _lookup(name, "A")
    if addresses.kind == "error":
        return _failed(base, addresses)
    if addresses.kind == "none":
        return RecordCheck(**base, status=MISSING)
    ours = _lookup(target, "A")
    if ours.kind == "ok" and set(addresses.values) & set(ours.values):
        return RecordCheck(**base, status=PRESENT, found=tuple(addresses.values))
    return RecordCheck(
        **base,
        status=WRONG,
        problem="cname_other",
        detail=", ".join(addresses.values),
        found=tuple(addresses.values),
    )


def run(domain: Domain) -> Report:
    """Look every record up now (in parallel: the page waits for the slowest one only)."""
    jobs = [
        lambda: _check_mx(domain),
        lambda: _check_spf(domain),
        *[(lambda k=k: _check_dkim(k)) for k in dkim.published_keys(domain)],
        lambda: _check_dmarc(domain),
        lambda: _check_cname(domain, "autoconfig"),
        lambda: _check_cname(domain, "autodiscover"),
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        checks = tuple(pool.map(lambda job: job(), jobs))
    return Report(domain=domain.name, checked_at=timezone.now(), checks=checks)


def _cache_key(domain: Domain) -> str:
    # The row's creation time too: a domain deleted and registered again (or a test database
    # made again) must not find the report of its namesake; the resolver, because answers are its.
    created = domain.created_at.timestamp() if domain.created_at else 0
    return f"domains:dnscheck:{domain.pk}:{domain.name}:{created}:{settings.DNS_RESOLVER}"


def cached(domain: Domain) -> Report | None:
    return cache.get(_cache_key(domain))


def remember(domain: Domain, report: Report) -> None:
    cache.set(_cache_key(domain), report, settings.DNS_CHECK_CACHE_SECONDS)


def forget(domain: Domain) -> None:
    cache.delete(_cache_key(domain))
