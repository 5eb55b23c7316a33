"""Line endings of a message as the SMTP server keeps it: CRLF only.

A bare CR or a bare LF inside DATA is not a line end for aiosmtpd, but it is for some receivers:
forwarded unchanged, `<CR>.<CR><LF>` could end the message early there and smuggle a second,
spoofed transaction from the provider's addresses (SMTP smuggling). Like Postfix, the server
turns every bare CR and bare LF into CRLF before queuing or delivering, so what leaves has only
CRLF line ends and every line starting with "." is dot-stuffed by the outbound client."""

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


def normalise(content: bytes) -> bytes:
    crlf = content.count(b"\r\n")
    if content.count(b"\r") == crlf and content.count(b"\n") == crlf:
        return content  # the common case: CRLF only, no copy
    return _LINE_END.sub(b"\r\n", content)
