"""Every test of tests/mta runs isolated (fixtures in tests/mta/smtpd_plugin.py)."""

import pytest

from tests.factories import CustomerFactory, DomainFactory, MailboxFactory


@pytest.fixture(autouse=True)
def _isolated(smtp_isolation):
    return smtp_isolation


# Data ------------------------------------------------------------------------------------------


@pytest.fixture
def customer(transactional_db):
    return CustomerFactory()


@pytest.fixture
def domain(customer):
    return DomainFactory(customer=customer, name="acme.test")


@pytest.fixture
def other_domain(customer):
    return DomainFactory(customer=customer, name="other.test")


@pytest.fixture
def mario(domain):
    return MailboxFactory(domain=domain, local_part="mario")


@pytest.fixture
def luigi(domain):
    return MailboxFactory(domain=domain, local_part="luigi")
