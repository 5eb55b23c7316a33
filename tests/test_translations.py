"""Translations: the Italian catalogue is complete and faithful to its placeholders, the English one
exists with the same entries, both compile, and pages come out in Italian by default and in
English when the visitor asks for it.

Source strings are English; Italian is the default language (LANGUAGE_CODE "it").
"""

import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"
IT_PO = LOCALE / "it" / "LC_MESSAGES" / "django.po"
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"

# printf-style placeholders as Django writes them in msgids ({{ x }} in a blocktranslate becomes %(x)s)
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|%%")

# Entries whose Italian text is deliberately the same as the English source: product names, units and
# technical terms used as such by Italian providers. Anything else identical to its msgid is an entry
# somebody copied instead of translating.
SAME_IN_ITALIAN = {
    "mailsuite",
    "Login",
    "login",
    "TLS",
    "no",
    "Manager",
    "manager",
    "Webmail",
    "Time Machine",
    "Mail Time Machine",
    "Back office",
    "Password",
    "password",
    "Email",
    "email",
    "Message-ID",
    "Home",
    "Monitor",
    "Account",
    "snapshot",
    "8 GB (standard)",
    "25 GB",
    "50 GB",
    "100 GB",
    "logo",
    "user agent",  # the HTTP header's name, kept in Italian technical writing
    "postmaster",
    "Postmaster",
    "Tracemail",
    "2FA",
    "Cc",
    "Alias",
    "Catch-all",
}
# SMTP protocol replies stay in English, like every MTA's (remote servers and clients log them, the
# SMTP tests assert them): the texts that only the SMTP server uses, each with a translator comment.
SMTP_SERVER = "mta/handler.py"

# The house glossary: a source term and the Italian a translation containing it must use.
GLOSSARY = {
    r"\bapp passwords?\b": "password per app",
    r"\btwo-factor authentication\b": "autenticazione a due fattori",
    r"\bsend limit\b": "limite di invio",
    r"\baccess log\b": "registro accessi",
    r"\bmailbox(es)?\b": "casell",
    r"\bdelegates?\b": "delegat",
    r"\bTracemail\b": "Tracemail",
}


def entries(path: Path) -> list[polib.POEntry]:
    return [e for e in polib.pofile(str(path)) if not e.obsolete]


def forms(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def kept_in_english(entry: polib.POEntry) -> bool:
    smtp_reply = {path for path, _line in entry.occurrences} == {SMTP_SERVER}
    return entry.msgid in SAME_IN_ITALIAN or (smtp_reply and "SMTP protocol reply" in entry.tcomment)


def label(entry: polib.POEntry) -> str:
    where = ", ".join(f"{f}:{n}" for f, n in entry.occurrences[:2])
    return f"{entry.msgid!r} ({where})"


# --- the catalogues -------------------------------------------------------------------------------


def test_italian_catalogue_has_every_entry_translated_and_none_fuzzy():
    # given the Italian catalogue
    po = polib.pofile(str(IT_PO))
    # when its entries are read
    live = [e for e in po if not e.obsolete]
    untranslated = [label(e) for e in live if not all(forms(e))]
    fuzzy = [label(e) for e in live if "fuzzy" in e.flags]
    # then every one has text in every form, none is fuzzy, and the header is Italian's
    assert len(live) > 400
    assert untranslated == []
    assert fuzzy == []
    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == "it"
    assert po.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert all(len(forms(e)) == 2 for e in live if e.msgid_plural)


def test_every_italian_translation_keeps_the_placeholders_of_its_source():
    # given the Italian catalogue
    mismatched = []
    for entry in entries(IT_PO):
        # when the placeholders of each form are compared with the source's
        if entry.msgid_plural:
            expected = [placeholders(entry.msgid), placeholders(entry.msgid_plural)]
        else:
            expected = [placeholders(entry.msgid)]
        actual = [placeholders(text) for text in forms(entry)]
        if actual != expected:
            mismatched.append((label(entry), expected, actual))
    # then none was lost, added or renamed
    assert mismatched == []


def test_only_the_agreed_entries_read_the_same_in_italian_as_in_english():
    # given the Italian catalogue; when the entries whose text is the English source are listed
    copied = [label(e) for e in entries(IT_PO) if not e.msgid_plural and e.msgstr == e.msgid]
    # then they are exactly the agreed terms and the SMTP replies
    assert sorted(copied) == sorted(label(e) for e in entries(IT_PO) if kept_in_english(e))


def test_translations_follow_the_glossary():
    # given the glossary (mailbox -> casella, app password -> password per app, ...)
    off_glossary = []
    for entry in entries(IT_PO):
        if kept_in_english(entry):
            continue
        for source, italian in GLOSSARY.items():
            # when a source text uses a glossary term
            if re.search(source, entry.msgid, re.IGNORECASE):
                # then every Italian form uses the agreed term
                off_glossary += [
                    (label(entry), italian) for text in forms(entry) if italian.lower() not in text.lower()
                ]
    assert off_glossary == []


def test_english_catalogue_exists_with_the_same_entries_as_the_italian_one():
    # given both catalogues, made by the same makemessages run
    italian = {(e.msgctxt, e.msgid) for e in entries(IT_PO)}
    english = entries(EN_PO)
    # then they hold the same source strings and English has nothing fuzzy (it may stay empty)
    assert {(e.msgctxt, e.msgid) for e in english} == italian
    assert [label(e) for e in english if "fuzzy" in e.flags] == []


@pytest.mark.parametrize("po", [IT_PO, EN_PO], ids=["it", "en"])
def test_catalogue_compiles_with_format_checks(po, tmp_path):
    # given a catalogue; when msgfmt compiles it checking formats and the header
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "gettext's msgfmt is needed (compilemessages uses it too)"
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "django.mo"), str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    # then it compiles without a single complaint
    assert (result.returncode, result.stderr) == (0, "")


def test_compiled_catalogue_is_what_django_uses():
    # the .mo is gitignored and compiled by scripts/setup.sh; this catches a stale or missing one
    with translation.override("it"):
        assert translation.gettext("Mailbox") == "Casella"
        assert translation.ngettext("%(n)s mailbox", "%(n)s mailboxes", 3) % {"n": 3} == "3 caselle"
        assert translation.ngettext("%(n)s mailbox", "%(n)s mailboxes", 1) % {"n": 1} == "1 casella"
    with translation.override("en"):
        assert translation.gettext("Mailbox") == "Mailbox"


# --- pages ----------------------------------------------------------------------------------------


def test_index_page_is_italian_by_default():
    # given a visitor whose browser asks for no language
    # when they open the home page
    response = Client().get("/")
    page = response.content.decode()
    # then it is in Italian
    assert response.status_code == 200
    assert '<html lang="it">' in page
    assert (
        'Pannello di controllo</a><br><span class="muted">postmaster e manager gestiscono i loro domini'
        in page
    )
    assert "Control panel" not in page


@pytest.mark.django_db
def test_control_panel_login_page_is_italian_by_default():
    response = Client().get("/mailadmin/login/")
    page = response.content.decode()
    assert response.status_code == 200
    assert ">Accedi</button>" in page
    assert "Indirizzo email o login" in page
    assert "Sign in" not in page


def test_switching_the_language_to_english_shows_english():
    # given a visitor on the Italian home page
    client = Client()
    assert "Pannello di controllo" in client.get("/").content.decode()
    # when they choose English in the language menu
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    # then they go back to the page, which is now in English, and stays so
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert 'Control panel</a><br><span class="muted">postmasters and managers run their domains' in page
    assert "Pannello di controllo" not in page


@pytest.mark.django_db
def test_browser_asking_for_english_gets_the_login_page_in_english():
    response = Client().get("/mailadmin/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    page = response.content.decode()
    assert response.status_code == 200
    assert ">Sign in</button>" in page
    assert "Email address or login" in page
    assert "Accedi" not in page
