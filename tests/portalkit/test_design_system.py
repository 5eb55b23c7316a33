"""One design system for every portal: no emoji glyphs in the portals' markup and scripts (icons
are SVG), one base template chain, the shell's assets small, icons built from the sprite."""

import gzip
import re
from pathlib import Path

import pytest
from django.template.loader import get_template

from portalkit.icons import icon_html

ROOT = Path(__file__).resolve().parents[2]
EMOJI = re.compile("[\u2190-\u21ff\u25a0-\u25ff\u2600-\u27bf\u2b00-\u2bff\U0001f300-\U0001faff]")
PORTAL_SOURCES = [
    *ROOT.glob("templates/**/*.html"),
    *ROOT.glob("customer/templates/**/*.html"),
    *ROOT.glob("static/**/*.js"),
    ROOT / "portalkit" / "listing.py",
    ROOT / "mailadmin" / "templatetags" / "panel.py",
]
SPRITE = (ROOT / "static" / "icons" / "sprite.svg").read_text()


@pytest.mark.parametrize("path", PORTAL_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_emoji_glyph_in_the_portals_markup_or_scripts(path):
    # given a template, script or HTML-building module of a portal
    # then it uses SVG icons, not glyphs that show as empty boxes without an emoji font
    assert EMOJI.findall(path.read_text()) == []


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "portal_home.html",
        "accounts/base_login.html",
        "mailadmin/base.html",
        "webmail/base.html",
        "timemachine/base.html",
        "customer/customer_base.html",
    ],
)
def test_every_portal_extends_the_one_shell(name):
    # when the portal's base template is loaded, then its chain ends at base.html (the shell)
    template = get_template(name).template
    chain = [template.name]
    while template.nodelist and getattr(template.nodelist[0], "parent_name", None):
        parent = template.nodelist[0].parent_name.resolve({})
        chain.append(parent)
        template = get_template(parent).template
    assert chain[-1] == "base.html", chain


def test_the_shell_links_the_design_system_and_nothing_from_a_cdn():
    shell = (ROOT / "templates" / "base.html").read_text()
    assert "{% static 'ds/ds.css' %}" in shell and "{% static 'ds/ds.js' %}" in shell
    for path in PORTAL_SOURCES:
        assert not re.search(r"(src|href)=\"(https?:)?//", path.read_text()), path


def test_icons_used_in_code_exist_in_the_sprite():
    used = set()
    for path in PORTAL_SOURCES:
        text = path.read_text()
        used |= set(re.findall(r'{% icon "([a-z-]+)"', text))
        used |= set(re.findall(r'icon_html\("([a-z-]+)"', text))
        used |= set(re.findall(r'icon\("([a-z-]+)"\)', text))
    assert used, "no icon found: the patterns above are out of date"
    missing = {name for name in used if f'<symbol id="{name}"' not in SPRITE}
    assert missing == set()


def test_an_icon_is_decorative_unless_labelled():
    decorative = icon_html("flag", sprite="/s/sprite.svg")
    labelled = icon_html("flag", label='Flag "x"', sprite="/s/sprite.svg")
    assert 'aria-hidden="true"' in decorative and 'href="/s/sprite.svg#flag"' in decorative
    assert 'role="img" aria-label="Flag &quot;x&quot;"' in labelled
    assert "<title>Flag &quot;x&quot;</title>" in labelled


def test_the_webmail_shell_stays_small():
    # issue 11 caps the webmail shell's CSS and JS at 150 KB compressed
    files = ["ds/ds.css", "ds/ds.js", "icons/sprite.svg", "webmail/webmail.css", "webmail/webmail.js"]
    compressed = sum(len(gzip.compress((ROOT / "static" / f).read_bytes(), 9)) for f in files)
    assert compressed < 150 * 1024, compressed
