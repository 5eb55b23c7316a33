"""WBXML as ActiveSync uses it (MS-ASWBXML): tags from code pages, inline strings, opaque data.

A document is an xml.etree.ElementTree element whose tags are "{Namespace}Tag", Namespace being
the code page's name (activesync.codepages): "{AirSync}Sync", "{AirSyncBase}Body". An element's
text is a str (sent as an inline string, STR_I) or bytes (sent as OPAQUE: MIME bodies,
ConversationId); the decoder gives OPAQUE back as bytes for those elements (BINARY), and as a
str for any other (a device may send any string as OPAQUE). ActiveSync uses no attributes, no
string table and no entities; an element has either text or children.

The header is the one devices send: WBXML 1.3, public id 1 (unknown), UTF-8, empty string table.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.codepages import CODE_PAGES, PAGE_OF, TOKEN_OF

SWITCH_PAGE = 0x00
END = 0x01
ENTITY = 0x02
STR_I = 0x03
LITERAL = 0x04
STR_T = 0x83
OPAQUE = 0xC3
WITH_CONTENT = 0x40
WITH_ATTRIBUTES = 0x80

HEADER = bytes([0x03, 0x01, 0x6A, 0x00])  # version 1.3, public id 1, UTF-8 (MIBenum 106), no string table
UTF8_MIB = 0x6A
MAX_DEPTH = 64  # ActiveSync documents are a dozen levels deep; a deeper one is hostile
# The elements whose content is data, not a string: MIME, an attachment's or a body's content,
# a conversation's id. Any other element's OPAQUE is read as a string like STR_I (the commands
# compare and echo it as one: bytes made them fail with TypeError).
BINARY = frozenset(
    {
        "{ComposeMail}Mime",
        "{AirSyncBase}Content",
        "{AirSyncBase}Data",
        "{ItemOperations}Data",
        "{Email2}ConversationId",
        "{Email2}ConversationIndex",
    }
)


class WBXMLError(ValueError):
    """Not a WBXML document this module can read or write."""


def split_tag(tag: str) -> tuple[str, str]:
    if not tag.startswith("{") or "}" not in tag:
        raise WBXMLError(f"tag {tag!r} has no code page namespace")
    namespace, _, name = tag[1:].partition("}")
    return namespace, name


# Encoder -----------------------------------------------------------------------------------


def _mb_u_int32(value: int) -> bytes:
    if value < 0 or value > 0xFFFFFFFF:
        raise WBXMLError(f"{value} does not fit a mb_u_int32")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


_CODES: dict[str, tuple[int, int]] = {}  # tag → (code page, token), filled as tags are met


def _code(tag: str) -> tuple[int, int]:
    namespace, name = split_tag(tag)
    token = TOKEN_OF.get((namespace, name))
    if token is None:
        raise WBXMLError(f"no token for {tag}")
    _CODES[tag] = (PAGE_OF[namespace], token)
    return _CODES[tag]


class Encoded(Element):
    """An element that was encoded already (`encoded`): a document containing it copies its
    bytes instead of encoding it again (a Sync's collection is encoded once to be kept for a
    repeated request, and that same encoding goes into the answer)."""

    wbxml: bytes  # the element's encoding, without the header, starting on code page 0
    end_page: int  # the code page in force after it


def encoded(root: Element) -> tuple[bytes, Encoded]:
    """The document of `root` (as `encode` gives it) and `root` as an Encoded element that a
    larger document can take without encoding it again. `root` must not change afterwards."""
    out = bytearray(HEADER)
    end_page = _encode(root, out)
    document = bytes(out)
    copy = Encoded(root.tag)
    copy.text = root.text
    copy.extend(root)
    copy.wbxml, copy.end_page = document[len(HEADER) :], end_page
    return document, copy


def encode(root: Element) -> bytes:
    out = bytearray(HEADER)
    _encode(root, out)
    return bytes(out)


def _encode(root: Element, out: bytearray) -> int:
    """Append the encoding of `root` to `out`, starting on code page 0; the page it ends on."""
    # A Sync answer of 512 messages is ~20,000 elements: a bytearray and a tag cache, not a
    # BytesIO and a namespace split per element (the encoder was a third of such a Sync).
    page = 0
    codes = _CODES
    # An explicit stack, not recursion: (element, children started?)
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        element, opened = stack.pop()
        if opened:
            out.append(END)
            continue
        if type(element) is Encoded:
            if page != 0:
                out.append(SWITCH_PAGE)
                out.append(0)
            out += element.wbxml
            page = element.end_page
            continue
        wanted, token = codes.get(element.tag) or _code(element.tag)
        if element.attrib:
            raise WBXMLError(f"{element.tag}: ActiveSync has no attributes")
        if wanted != page:
            out.append(SWITCH_PAGE)
            out.append(wanted)
            page = wanted
        text = element.text
        if len(element):
            if text not in (None, ""):
                raise WBXMLError(f"{element.tag} has both text and children")
            out.append(token | WITH_CONTENT)
            stack.append((element, True))
            stack.extend((child, False) for child in reversed(element))
            continue
        if text is None or text == "":
            out.append(token)  # an empty element: no content, no END
            continue
        out.append(token | WITH_CONTENT)
        _write_text(element.tag, text, out)
        out.append(END)
    return page


# Element specs: (tag, text, children) tuples, for answers built in bulk ---------------------
#
# A Sync page of 512 messages is ~10,000 elements. Built as tuples and written straight to
# WBXML (spec_encoded), they cost a third of Element objects encoded afterwards; spec_element
# makes the Element tree of the same spec for the commands that edit it (ItemOperations,
# Search). A spec's text follows `element`'s rules: None or "" is an empty element, bytes are
# OPAQUE, anything else its str(); None children are skipped.

Spec = tuple  # (tag: str, text, children: tuple[Spec | None, ...])


def spec_element(spec: Spec) -> Element:
    tag, text, children = spec
    node = Element(tag)
    if text is not None:
        node.text = text if isinstance(text, bytes) else str(text)
    for child in children:
        if child is not None:
            node.append(spec_element(child))
    return node


def spec_encoded(spec: Spec) -> Encoded:
    """The spec as an Encoded element (copied as it is into the document that takes it); the
    same bytes `encode(spec_element(spec))` gives, less the header."""
    out = bytearray()
    end_page = _write_spec(spec, out, 0)
    node = Encoded(spec[0])
    node.wbxml, node.end_page = bytes(out), end_page
    return node


def _write_spec(spec: Spec, out: bytearray, page: int) -> int:
    tag, text, children = spec
    wanted, token = _CODES.get(tag) or _code(tag)
    if wanted != page:
        out += bytes((SWITCH_PAGE, wanted))
        page = wanted
    if children:
        opened = len(out)
        out.append(token | WITH_CONTENT)
        wrote = False
        for child in children:
            if child is None:
                continue
            wrote = True
            if child[2]:
                page = _write_spec(child, out, page)
                continue
            # a leaf, written here: most of a spec's elements (no call per element)
            child_tag, child_text = child[0], child[1]
            child_page, child_token = _CODES.get(child_tag) or _code(child_tag)
            if child_page != page:
                out += bytes((SWITCH_PAGE, child_page))
                page = child_page
            if child_text is None or child_text == "":
                out.append(child_token)
            else:
                out.append(child_token | WITH_CONTENT)
                _write_text(child_tag, child_text, out)
                out.append(END)
        if wrote:
            if text not in (None, ""):
                raise WBXMLError(f"{tag} has both text and children")
            out.append(END)
            return page
        del out[opened:]  # every child None: an element without children
    if text is None or text == "":
        out.append(token)
        return page
    out.append(token | WITH_CONTENT)
    _write_text(tag, text, out)
    out.append(END)
    return page


def _write_text(tag: str, text, out: bytearray) -> None:
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        out.append(OPAQUE)
        out += _mb_u_int32(len(data))
        out += data
        return
    else:
        data = str(text).encode("utf-8")
    if b"\x00" in data:
        raise WBXMLError(f"{tag}: a NUL cannot be sent as a string")
    out.append(STR_I)
    out += data
    out.append(0)


# Decoder -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise WBXMLError("truncated document")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def mb_u_int32(self) -> int:
        value = 0
        for _ in range(5):
            b = self.byte()
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value
        raise WBXMLError("mb_u_int32 longer than 5 bytes")

    def take(self, length: int) -> bytes:
        if self.pos + length > len(self.data):
            raise WBXMLError("truncated document")
        chunk = self.data[self.pos : self.pos + length]
        self.pos += length
        return chunk

    def cstring(self) -> bytes:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise WBXMLError("unterminated string")
        chunk = self.data[self.pos : end]
        self.pos = end + 1
        return chunk


_TAGS = {
    (page, token): f"{{{namespace}}}{name}"
    for page, (namespace, tags) in CODE_PAGES.items()
    for token, name in tags.items()
}


def decode(data: bytes, *, max_elements: int | None = None) -> Element:
    """The document in `data`; WBXMLError when it is not one ActiveSync can mean. `max_elements`:
    refuse a document of more elements (a request: each costs ~80 bytes decoded, and 50 MB of
    one-byte empty tags would be 4 GB)."""
    reader = _Reader(bytes(data))
    version = reader.byte()
    if version not in (0x01, 0x02, 0x03):
        raise WBXMLError(f"unknown WBXML version {version:#x}")
    if reader.mb_u_int32() == 0:  # the public id is an index into the string table
        reader.mb_u_int32()
    charset = reader.mb_u_int32()
    if charset not in (UTF8_MIB, 0):  # 0: unknown, taken as UTF-8
        raise WBXMLError(f"charset MIBenum {charset} is not UTF-8")
    reader.take(reader.mb_u_int32())  # a string table: ActiveSync never refers to it

    page = 0
    root: Element | None = None
    stack: list[Element] = []
    texts: list[list] = []  # the text parts of each open element
    count = 0
    data, size = reader.data, len(reader.data)
    while reader.pos < size:
        b = data[reader.pos]  # the hot path of the loop without a method call
        reader.pos += 1
        if b == SWITCH_PAGE:
            page = reader.byte()
            if page not in CODE_PAGES:
                raise WBXMLError(f"code page {page} is not supported")
            continue
        if b == END:
            if not stack:
                raise WBXMLError("END without an open element")
            element = stack.pop()
            parts = texts.pop()
            if parts:
                if len(element):
                    raise WBXMLError(f"{element.tag} has both text and children")
                if element.tag not in BINARY:
                    # A string, like STR_I; NUL (which STR_I cannot hold) would make echoing it
                    # back fail in the encoder.
                    parts = [
                        p.decode("utf-8", "replace").replace("\x00", "\ufffd") if isinstance(p, bytes) else p
                        for p in parts
                    ]
                if any(isinstance(p, bytes) for p in parts):
                    element.text = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
                else:
                    element.text = "".join(parts)
            if not stack:
                break
            continue
        if b == STR_I:
            if not stack:
                raise WBXMLError("text outside the root element")
            texts[-1].append(reader.cstring().decode("utf-8", "replace"))
            continue
        if b == OPAQUE:
            if not stack:
                raise WBXMLError("opaque data outside the root element")
            texts[-1].append(reader.take(reader.mb_u_int32()))
            continue
        if b in (ENTITY, LITERAL, STR_T) or (b & 0x3F) < 0x05 or b & WITH_ATTRIBUTES:
            raise WBXMLError(f"WBXML token {b:#x} is not used by ActiveSync")
        if root is not None and not stack:
            raise WBXMLError("a second root element")
        tag = _TAGS.get((page, b & 0x3F))
        if tag is None:
            raise WBXMLError(f"unknown tag {b & 0x3F:#x} in code page {page}")
        count += 1
        if max_elements is not None and count > max_elements:
            raise WBXMLError(f"more than {max_elements} elements")
        element = Element(tag)
        if stack:
            stack[-1].append(element)
        else:
            root = element
        if b & WITH_CONTENT:
            if len(stack) >= MAX_DEPTH:
                raise WBXMLError("document nested too deep")
            stack.append(element)
            texts.append([])
        elif root is element:
            break
    if root is None:
        raise WBXMLError("no root element")
    if stack:
        raise WBXMLError("truncated document")
    if reader.pos != len(reader.data):
        raise WBXMLError("bytes after the root element")
    return root
