"""portalkit.mimeparse.quick_parse builds exactly the tree of Python's compat32 email parser, or
gives up (None). Compared on ordinary, odd and broken messages and on thousands of mutations of
them: whenever it answers, every part's headers, payload, preamble, epilogue, default type and
defects equal the email parser's."""

import base64
import email
import email.message
import random

import pytest

from portalkit import rendering
from portalkit.mimeparse import quick_parse


def tree(msg: email.message.Message) -> tuple:
    payload = msg._payload
    inner = tuple(tree(p) for p in payload) if isinstance(payload, list) else payload
    return (
        type(msg),
        msg.policy,
        tuple(msg._headers),
        inner,
        msg.preamble,
        msg.epilogue,
        msg.get_default_type(),
        msg.get_unixfrom(),
        [type(d) for d in msg.defects],
        msg._charset,
    )


def same_as_email_parser(raw: bytes) -> bool:
    """True when quick_parse answered (and then its tree is asserted equal); False when it gave up."""
    quick = quick_parse(raw)
    if quick is None:
        return False
    assert tree(quick) == tree(email.message_from_bytes(raw)), raw[:300]
    return True


PDF = base64.encodebytes(b"%PDF-1.4 " + bytes(range(256)) * 6).decode()
PNG = base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(200)).decode()


def plain(eol="\r\n", body="Hello,\nsee you.\n"):
    return (
        "From: Anna Rossi <anna@example.test>\nTo: Bob <bob@example.test>, carl@example.test\n"
        "Subject: =?utf-8?q?Caff=C3=A8?= and\n a folded subject\nDate: Mon, 2 Feb 2026 10:00:00 +0100\n"
        "Message-ID: <m1@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n" + body
    ).replace("\n", eol)


def alternative(eol="\r\n", boundary="alt", preamble="", epilogue=""):
    return (
        "From: a@example.test\nTo: b@example.test\nSubject: alt\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n{preamble}'
        f"--{boundary}\nContent-Type: text/plain; charset=iso-8859-1\n\nCaff\xe8\n"
        f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n<p>Caff&egrave; <b>x</b></p>\n"
        f"--{boundary}--\n{epilogue}"
    ).replace("\n", eol)


def mixed(eol="\r\n"):
    return (
        "From: a@example.test\nTo: b@example.test\nSubject: mixed\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="mix"\n\nThis is a multi-part message in MIME format.\n'
        '--mix\nContent-Type: multipart/related; boundary="rel"\n\n'
        '--rel\nContent-Type: multipart/alternative; boundary="alt"\n\n'
        "--alt\nContent-Type: text/plain\n\nText\n\n"
        '--alt\nContent-Type: text/html\n\n<img src="cid:logo@x">\n--alt--\n\n'
        "--rel\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
        f"{PNG}--rel--\n"
        '--mix\nContent-Type: application/pdf; name="r.pdf"\nContent-Transfer-Encoding: base64\n'
        "Content-Disposition: attachment;\n filename*=utf-8''r%C3%A8port.pdf\n\n"
        f"{PDF}\n--mix--\n"
    ).replace("\n", eol)


ORDINARY = [
    plain(),
    plain("\n"),
    plain(body=""),
    plain(body="no final newline"),
    plain(body="\n\n\nblank lines first\n\n"),
    plain(body="8-bit body: caff\xe8 \u20ac\n".encode().decode("latin-1")),
    alternative(),
    alternative("\n"),
    alternative(preamble="preamble\nlines\n"),
    alternative(epilogue="epilogue\n"),
    alternative(epilogue="\n\n"),
    alternative(boundary="----=_Part_0_12345.67890"),
    alternative(boundary="a b'(c)+_,-./:=?"),
    mixed(),
    mixed("\n"),
    "Subject: headers only\r\n",
    "Subject: headers only, blank line\r\n\r\n",
    "",
    "\r\n\r\nno headers at all\r\n",
    "X-Empty:\r\nX-Spaces:   \r\nX-Tab:\tv\r\nSubject: s\r\n\r\nbody",
    "Content-Type: multipart/mixed; boundary=tok\r\n\r\n--tok\r\n\r\nno part headers\r\n--tok--",
    "Content-Type: multipart/mixed; boundary=tok\r\n\r\n--tok  \t\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    "--tok-- \r\ntail",
    "Content-Type: multipart/mixed; boundary=tok\r\n\r\n--tok\r\nContent-Type: text/plain\r\n--tok--\r\n",
    "Content-Type: text/plain; boundary=notmultipart\r\n\r\n--notmultipart\r\n",
    'Content-Type: MULTIPART/Alternative; Boundary="Q"\r\n\r\n--Q\r\n\r\na\r\n--Q\r\n\r\nb\r\n--Q--\r\n',
    "Content-Type: nonsense\r\n\r\nbody\r\n",
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n",
]

# Shapes the email parser treats in ways of its own: quick_parse must give up on each.
UNUSUAL = [
    "From someone Mon Feb  2 10:00:00 2026\r\nSubject: unix from\r\n\r\nx",
    " continuation first\r\nSubject: x\r\n\r\nbody",
    "Subject: no separator\r\nthis is not a header\r\nbody",
    ":empty name\r\n\r\nbody",
    "Subject: caff\xe8 8-bit\r\n\r\nbody",
    "Subject: bare\rCR\r\n\r\nbody",
    "Subject: x\r\n\r\nbody with a bare\rCR",
    "Subject: x\r\n\r\nform\x0cfeed",
    "Subject: nul\x00\r\n\r\nbody",
    "Content-Type: multipart/mixed\r\n\r\n--nob\r\n\r\nx\r\n--nob--\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter at all\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nnever closed\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\ntwice\r\n--b--\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "--b\r\n\r\nx\r\n--b--\r\n",
    "Content-Type: multipart/mixed; boundary=ab\r\n\r\n"
    "--ab\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    "--a\r\n\r\nx\r\n--a--\r\n--ab--\r\n",
    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nx\r\n--d--\r\n",
    "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx\r\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: inner\r\n\r\nx\r\n--b--\r\n",
]


def nested(depth: int) -> str:
    head, tail = "", ""
    for level in range(depth):
        head += f"Content-Type: multipart/mixed; boundary=b{level}x\r\n\r\n--b{level}x\r\n"
        tail = f"\r\n--b{level}x--\r\n" + tail
    return head + "Content-Type: text/plain\r\n\r\ndeep" + tail


@pytest.mark.parametrize("text", ORDINARY, ids=range(len(ORDINARY)))
def test_ordinary_messages_get_the_email_parsers_tree(text):
    raw = text.encode("latin-1")
    assert same_as_email_parser(raw)


@pytest.mark.parametrize("text", UNUSUAL, ids=range(len(UNUSUAL)))
def test_unusual_messages_are_left_to_the_email_parser(text):
    raw = text.encode("latin-1")
    assert quick_parse(raw) is None
    # and the renderer still reads them, through the email parser
    assert rendering.parse(raw) is not None


def test_nesting_deeper_than_the_limit_is_left_to_the_email_parser():
    assert same_as_email_parser(nested(3).encode())
    assert quick_parse(nested(40).encode()) is None


def mutations(raw: bytes, rng: random.Random, count: int):
    lines = raw.splitlines(keepends=True)
    for _ in range(count):
        out = list(lines)
        for _step in range(rng.randint(1, 3)):
            kind = rng.randrange(8)
            at = rng.randrange(len(out) + 1)
            if kind == 0 and out:
                del out[min(at, len(out) - 1)]
            elif kind == 1 and out:
                out.insert(at, out[rng.randrange(len(out))])
            elif kind == 2:
                boundary = rng.choice([b"alt", b"mix", b"rel", b"tok", b"Q", b"b0x"])
                out.insert(
                    at,
                    b"--" + boundary + rng.choice([b"", b"--"]) + rng.choice([b"\r\n", b"\n", b"", b" \r\n"]),
                )
            elif kind == 3:
                out.insert(at, rng.choice([b"\r\n", b"\n", b" folded\r\n", b"X-New: v\r\n", b"no colon\r\n"]))
            elif kind == 4 and out:
                i = min(at, len(out) - 1)
                line = bytearray(out[i])
                if line:
                    line[rng.randrange(len(line))] = rng.randrange(256)
                out[i] = bytes(line)
            elif kind == 5:
                joined = b"".join(out)
                out = joined[: rng.randrange(len(joined) + 1)].splitlines(keepends=True)
            elif kind == 6 and out:
                i = min(at, len(out) - 1)
                out[i] = out[i].rstrip(b"\r\n") + rng.choice([b"\n", b"\r\n", b""])
            elif kind == 7:
                out.insert(at, rng.choice([b"Content-Type: multipart/mixed; boundary=tok\r\n", b"\t\r\n"]))
        yield b"".join(out)


def test_mutated_messages_get_the_email_parsers_tree_or_are_left_to_it():
    rng = random.Random(16)
    answered = left = 0
    for text in ORDINARY + [nested(3)]:
        for raw in mutations(text.encode("latin-1"), rng, 250):
            if same_as_email_parser(raw):
                answered += 1
            else:
                left += 1
    # Both ways are taken many times: the comparison covers real answers, not only refusals.
    assert answered > 2000 and left > 500, (answered, left)


def test_the_renderer_gives_the_same_result_either_way(monkeypatch):
    """render() through quick_parse equals render() through the email parser alone."""
    raws = [t.encode("latin-1") for t in ORDINARY] + [mixed().encode()]
    quick = [rendering.render(raw) for raw in raws]
    monkeypatch.setattr(rendering, "quick_parse", lambda raw: None)
    assert [rendering.render(raw) for raw in raws] == quick


@pytest.mark.parametrize(
    "content_type",
    [
        b"text/plain; charset=utf-8",
        b'text/plain; charset="ISO-8859-1"',
        b"text/plain; charset*=us-ascii'en'koi8-r",
        b"text/plain; charset=x-no-such-charset",
        b"text/plain",
        b"text/html; CHARSET=Windows-1252; format=flowed",
        b"text/plain; charset=\xe8\xe8",
        b"text/plain; charset=" + b"a" * 400,
    ],
)
def test_the_charset_read_by_content_type_is_the_one_read_from_the_part(content_type):
    """rendering._charset keeps what it read per Content-Type value: the same answer as reading
    the part itself, the second time too."""
    part = email.message_from_bytes(b"Content-Type: " + content_type + b"\r\n\r\nx")
    expected = rendering._charset_uncached(part)
    assert rendering._charset(part) == expected
    assert rendering._charset(part) == expected
