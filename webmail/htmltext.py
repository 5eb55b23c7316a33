"""The text/plain alternative of an HTML message written in the webmail: paragraphs and line
breaks, lists as "- " and "1. ", quotes as "> ", links as "text <url>". It reads HTML that the
sanitiser already cleaned (portalkit.rendering.sanitize_html), so it only has to be readable."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "table",
    "tr",
    "center",
    "dl",
    "dt",
    "dd",
}
_SKIP = {"script", "style", "head", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote = 0
        self.lists: list[list] = []  # [kind, counter]
        self.href: list[str | None] = []
        self.link_text: list[str] = []
        self.skip = 0
        self.pre = 0

    def _prefix(self) -> str:
        return "> " * self.quote

    def _newline(self) -> None:
        self.lines.append("")

    def _block(self) -> None:
        if self.lines[-1].strip(" >"):
            self._newline()

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if tag == "br":
            self._newline()
        elif tag == "blockquote":
            self._block()
            self.quote += 1
        elif tag in ("ul", "ol"):
            self._block()
            self.lists.append([tag, 0])
        elif tag == "li":
            self._block()
            indent = "  " * max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                self.lines[-1] += f"{indent}{self.lists[-1][1]}. "
            else:
                self.lines[-1] += f"{indent}- "
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.link_text.append("")
        elif tag in ("td", "th"):
            if self.lines[-1].strip():
                self.lines[-1] += "\t"
        elif tag in _BLOCKS:
            self._block()
            if tag == "pre":
                self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "blockquote":
            self._block()
            self.quote = max(0, self.quote - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._block()
        elif tag == "a" and self.href:
            href, text = self.href.pop(), self.link_text.pop()
            if href and not href.startswith("mailto:") and href.rstrip("/") != text.strip().rstrip("/"):
                self._write(f" <{href}>")
        elif tag in _BLOCKS:
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._block()

    def _write(self, text: str) -> None:
        if not self.lines[-1] and self.quote:
            self.lines[-1] = self._prefix()
        self.lines[-1] += text

    def _start_line(self) -> None:
        if self.quote and not self.lines[-1].startswith(self._prefix()):
            self.lines[-1] = self._prefix() + self.lines[-1]

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.lines[-1].strip(" >-.0123456789") and not self.lines[-1].endswith((" ", "\t")):
                data = data.lstrip()
        if not data:
            return
        pieces = data.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                self._newline()
            self._start_line()
            self._write(piece)
        for i in range(len(self.link_text)):
            self.link_text[i] += data


def html_to_plain(source: str) -> str:
    parser = _Text()
    parser.feed(source or "")
    parser.close()
    lines = [line.rstrip() for line in parser.lines]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
