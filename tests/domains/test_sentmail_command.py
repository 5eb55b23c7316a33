"""`manage.py sentmail` reads what the development file email backend wrote."""

import io
import os

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from tests.factories import CustomerFactory


@pytest.fixture
def file_email(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "sent-email"
    return settings.EMAIL_FILE_PATH


def sentmail(*args) -> str:
    out = io.StringIO()
    call_command("sentmail", *args, stdout=out)
    return out.getvalue()


def send(subject: str, body: str, to: str, when: int, directory) -> None:
    mail.send_mail(subject, body, "noreply@mail.localhost", [to])
    # The backend names files by the second; give each a distinct, known age.
    newest = max(directory.glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    os.utime(newest, (when, when))


def test_empty_directory_says_so(file_email):
    assert sentmail() == f"No email in {file_email}.\n"


def test_lists_messages_newest_first(file_email):
    send("Primo", "uno", "a@x.test", 1_700_000_000, file_email)
    send("Secondo", "due", "b@x.test", 1_700_000_100, file_email)
    lines = sentmail().splitlines()
    assert lines[0] == f"2 messages in {file_email}, newest first:"
    assert [line.split()[-2:] for line in lines[1:]] == [["b@x.test", "Secondo"], ["a@x.test", "Primo"]]
    assert lines[1].startswith("  1  ") and lines[2].startswith("  2  ")


def test_last_prints_the_newest_message_in_full_with_utf8(file_email):
    send("Vecchio", "vecchio corpo", "a@x.test", 1_700_000_000, file_email)
    send(
        "Credenziali è pronte",
        "Password: Abc-123\nGrazie, è tutto.",
        "legal@acme.test",
        1_700_000_500,
        file_email,
    )
    out = sentmail("--last")
    assert "To: legal@acme.test\n" in out
    assert "Subject: Credenziali è pronte\n" in out
    assert out.endswith("\nPassword: Abc-123\nGrazie, è tutto.\n")
    assert "vecchio corpo" not in out


def test_show_n_and_out_of_range(file_email):
    send("One", "body one", "a@x.test", 1_700_000_000, file_email)
    send("Two", "body two", "a@x.test", 1_700_000_100, file_email)
    assert sentmail("--show", "2").endswith("\nbody one\n")
    with pytest.raises(CommandError, match="There are 2 messages"):
        sentmail("--show", "3")


def test_several_messages_in_one_file_are_all_listed(file_email):
    with mail.get_connection() as connection:
        mail.EmailMessage("A", "a", to=["a@x.test"], connection=connection).send()
        mail.EmailMessage("B", "b", to=["b@x.test"], connection=connection).send()
    assert len(list(file_email.glob("*.log"))) == 1
    assert sentmail().splitlines()[0] == f"2 messages in {file_email}, newest first:"


@pytest.mark.django_db
def test_the_postmaster_credentials_email_can_be_read(file_email, django_capture_on_commit_callbacks):
    from domains.services import domain_register

    customer = CustomerFactory(legal_rep_email="legal@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        domain_register(customer=customer, name="acme.test")
    out = sentmail("--last")
    assert "To: legal@acme.test\n" in out
    assert "postmaster@acme.test" in out


def test_without_a_file_backend_it_explains(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    del settings.EMAIL_FILE_PATH
    with pytest.raises(CommandError, match="EMAIL_FILE_PATH is not set"):
        sentmail()
