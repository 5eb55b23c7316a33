"""A quicker way to the tree Python's compat32 email parser makes, for well-formed messages.

`email.message_from_bytes` reads a message line by line through generators, a stack of
end-of-part matchers and a policy call per header: about 80 µs for a 2 KB message, most of
the time a Sync of a big folder spends per message (bench/activesync.py --sync-only).

`quick_parse(raw)` builds the same tree (the same Message class and policy, the same
`_headers`, payloads, preambles and epilogues) for messages of the usual shape, and returns
None for anything else, which then goes to the email parser: headers of any part that are not
plain ASCII or not in the "Name: value" form, a line break that is not LF or CRLF (the email
parser also breaks lines at a lone CR), NUL and other control characters that end lines for
str.splitlines, message/* and multipart/digest parts, a multipart without its boundary, its
first or its closing delimiter, repeated delimiters, boundaries that are prefixes of one
another, more than MAX_DEPTH levels or MAX_PARTS parts: every case where the email parser
would record a defect or take a path of its own. tests/portalkit/test_mimeparse.py compares
the two trees on a corpus of ordinary, odd and broken messages, and on mutations of them."""

from __future__ import annotations

import email.message
import re
from email import policy as email_policy

MAX_DEPTH = 8
MAX_PARTS = 200

# A header line: a name of printable characters but ":" and space, then ":" (feedparser's
# headerRE also takes an empty name, or "From ", which it records as defects; not here).
_HEADER = re.compile(r"[!-9;-~]+:")
_NOT_PLAIN_HEADER = re.compile(r"[^\t\n\r -~]")
# Characters str.splitlines breaks lines at and the email parser does not (it splits at CR and
# LF only); and NUL. Bytes >= 0x80 become surrogates here, never \x85 or \u2028.
_ODD_BREAKS = re.compile(r"[\x00\x0b\x0c\x1c-\x1e]")
_EOL_END = re.compile(r"(\r\n|\r|\n)\Z")
_EOL_START = re.compile(r"^(\r\n|\r|\n)")


class _Unusual(Exception):
    """The message is not of the shape this parser reproduces: the email parser reads it."""


def quick_parse(raw: bytes) -> email.message.Message | None:
    """The compat32 tree of `raw`, as email.message_from_bytes makes it; None when `raw` is not
    of the usual shape (the caller then uses the email parser)."""
    text = raw.decode("ascii", "surrogateescape")
    if _ODD_BREAKS.search(text) or text.count("\r") != text.count("\r\n"):
        return None
    lines = text.splitlines(keepends=True)
    try:
        return _Parser(lines).message(0, len(lines), depth=0, boundaries=())[0]
    except _Unusual:
        return None


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.parts = 0

    def message(
        self, start: int, end: int, *, depth: int, boundaries: tuple[str, ...]
    ) -> tuple[email.message.Message, str]:
        """The message (or part) of lines[start:end], and its main content type."""
        self.parts += 1
        if depth > MAX_DEPTH or self.parts > MAX_PARTS:
            raise _Unusual
        msg = email.message.Message(policy=email_policy.compat32)
        lines = self.lines
        i = start
        headers: list[list[str]] = []
        while i < end:
            line = lines[i]
            if line in ("\r\n", "\n"):
                i += 1
                break
            if line[0] in " \t":
                if not headers:
                    raise _Unusual  # a first header line that is a continuation: a defect
                headers[-1].append(line)
            elif _HEADER.match(line):
                headers.append([line])
            else:
                raise _Unusual  # no blank line between headers and body: a defect
            i += 1
        if _NOT_PLAIN_HEADER.search("".join(lines[start:i])):
            raise _Unusual  # 8-bit headers: the email parser makes Header objects of them
        ctype = None
        for source in headers:
            name, value = source[0].split(":", 1)
            value = (
                value.lstrip(" \t") + "".join(source[1:]) if len(source) > 1 else value.lstrip(" \t")
            ).rstrip("\r\n")
            msg._headers.append((name, value))
            if ctype is None and name.lower() == "content-type":
                ctype = value
        # Message.get_content_type, on the first Content-Type as Message.get finds it
        maintype = "text"
        if ctype is not None:
            ctype = ctype.partition(";")[0].strip().lower()
            if ctype.count("/") == 1:
                maintype = ctype.partition("/")[0]
                if maintype == "message" or ctype == "multipart/digest":
                    raise _Unusual
        if maintype != "multipart":
            msg._payload = "".join(lines[i:end])
            return msg, maintype
        self._multipart(msg, i, end, depth=depth, boundaries=boundaries)
        return msg, maintype

    def _multipart(
        self, msg: email.message.Message, start: int, end: int, *, depth: int, boundaries: tuple[str, ...]
    ) -> None:
        boundary = msg.get_boundary()
        if boundary is None:
            raise _Unusual
        if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            raise _Unusual
        for other in boundaries:
            if other.startswith(boundary) or boundary.startswith(other):
                raise _Unusual  # which delimiter ends a part would depend on the email parser's order
        delimiter = re.compile(
            "(?P<sep>" + re.escape("--" + boundary) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
        )
        lines = self.lines
        i = start
        preamble: list[str] = []
        while i < end and not delimiter.match(lines[i]):
            preamble.append(lines[i])
            i += 1
        if i == end or delimiter.match(lines[i]).group("end"):
            raise _Unusual  # no first delimiter (or only the closing one): a defect
        if preamble:
            last = _EOL_END.search(preamble[-1])
            if last:
                preamble[-1] = preamble[-1][: -len(last.group(0))]
            msg.preamble = "".join(preamble)
        inner = (*boundaries, boundary)
        parts: list[email.message.Message] = []
        while True:
            # lines[i] is a delimiter between parts
            i += 1
            if i < end and delimiter.match(lines[i]):
                raise _Unusual  # delimiters in a row: the email parser skips them all
            part_start = i
            while i < end and not delimiter.match(lines[i]):
                i += 1
            if i == end:
                raise _Unusual  # no closing delimiter: a defect
            part, maintype = self.message(part_start, i, depth=depth + 1, boundaries=inner)
            # The line break before a delimiter belongs to the delimiter (RFC 2046).
            if maintype == "multipart":
                if part.epilogue == "":
                    part.epilogue = None
                elif part.epilogue is not None:
                    last = _EOL_END.search(part.epilogue)
                    if last:
                        part.epilogue = part.epilogue[: -len(last.group(0))]
            elif isinstance(part._payload, str):
                last = _EOL_END.search(part._payload)
                if last:
                    part._payload = part._payload[: -len(last.group(0))]
            parts.append(part)
            found = delimiter.match(lines[i])
            if found.group("end"):
                break
        msg._payload = parts
        epilogue = [""] if found.group("linesep") else []
        epilogue += lines[i + 1 : end]
        if epilogue:
            first = _EOL_START.match(epilogue[0])
            if first:
                epilogue[0] = epilogue[0][len(first.group(0)) :]
        msg.epilogue = "".join(epilogue)
