"""factory_boy factories shared by every app's tests.

They create data through the services (the only writers), so each row they make passes the
same validation, gets the same audit rows and the same side effects as in production:
`DomainFactory` calls `domain_register` (which creates the postmaster), `MailboxFactory`
calls `mailbox_create`, `ManagerFactory` calls `manager_create`.

Names are stable: other apps' tests import them.

    customer = CustomerFactory()                      # eligible: one site, profile 2.0, 10 channels
    customer = CustomerFactory(site=False)            # no site (not eligible)
    domain = DomainFactory(customer=customer)         # + postmaster@<domain>
    mailbox = MailboxFactory(domain=domain)           # mailbox.password_plain == MAILBOX_PASSWORD
    address, password = mailbox_with_password(domain=domain)
    manager = ManagerFactory(customer=customer, domains=[domain])
"""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from domains import services
from domains.models import Customer, Domain, Mailbox, Manager, QuotaTier, SendLimitTier, Site

MAILBOX_PASSWORD = "Test-Mailbox-Pass-2026"  # noqa: S105 - test data
MANAGER_PASSWORD = "Test-Manager-Pass-2026"  # noqa: S105 - test data


class ServiceFactory(DjangoModelFactory):
    """A factory whose `create` is a service call (subclasses implement `_service`)."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cls._service(**kwargs)

    @classmethod
    def _service(cls, **kwargs):
        raise NotImplementedError


class CustomerFactory(ServiceFactory):
    class Meta:
        model = Customer

    company_name = factory.Sequence(lambda n: f"Customer {n} S.r.l.")
    vat_number = factory.Sequence(lambda n: f"IT{n:011d}")
    legal_rep_name = factory.Sequence(lambda n: f"Legal Rep {n}")
    legal_rep_email = factory.Sequence(lambda n: f"legal{n}@customer{n}.test")

    @classmethod
    def _service(cls, **kwargs):
        return services.customer_create(**kwargs)

    @factory.post_generation
    def site(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook signature
        """One eligible site by default (profile 2.0, 10 channels = 60 mailboxes included).
        `site=False` for none; `site__profile=Decimal("1.0")` to change it."""
        if create and extracted is not False:
            SiteFactory(customer=obj, **kwargs)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        pass


class SiteFactory(ServiceFactory):
    class Meta:
        model = Site

    customer = factory.SubFactory(CustomerFactory, site=False)
    name = factory.Sequence(lambda n: f"Site {n}")
    profile = Decimal("2.0")
    voice_channels = 10

    @classmethod
    def _service(cls, **kwargs):
        return services.site_create(**kwargs)


class DomainFactory(ServiceFactory):
    """A registered domain: `domain_register`, so postmaster@<name> exists (random password,
    must change it). The credentials email is sent on commit, as in production."""

    class Meta:
        model = Domain

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"domain{n}.test")

    @classmethod
    def _service(cls, **kwargs):
        return services.domain_register(**kwargs)


class MailboxFactory(ServiceFactory):
    """A mailbox made by `mailbox_create`; its clear-text password is in `.password_plain`."""

    class Meta:
        model = Mailbox

    domain = factory.SubFactory(DomainFactory)
    local_part = factory.Sequence(lambda n: f"user{n}")
    password = MAILBOX_PASSWORD
    first_name = "Maria"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    quota_tier = QuotaTier.GB8
    send_limit = SendLimitTier.L250

    @classmethod
    def _service(cls, **kwargs):
        mailbox = services.mailbox_create(**kwargs)
        mailbox.password_plain = kwargs["password"]
        return mailbox


def mailbox_with_password(**kwargs) -> tuple[str, str]:
    """Create a mailbox (MailboxFactory arguments) and return (address, password)."""
    mailbox = MailboxFactory(**kwargs)
    return mailbox.address, mailbox.password_plain


class ManagerFactory(ServiceFactory):
    """A Manager made by `manager_create`; pass `domains=[...]` (of the same customer)."""

    class Meta:
        model = Manager

    customer = factory.SubFactory(CustomerFactory)
    username = factory.Sequence(lambda n: f"manager{n}")
    password = MANAGER_PASSWORD
    # Not like MANAGER_PASSWORD for any n: the attribute-similarity validator refused
    # manager202@example.test & co. (character overlap with "Test-Manager-Pass-2026").
    email = factory.Sequence(lambda n: f"boss{n}@firm.example")
    domains = ()

    @classmethod
    def _service(cls, **kwargs):
        kwargs["domains"] = list(kwargs.get("domains") or ())
        return services.manager_create(**kwargs)
