"""Attachment names as the shared renderer finds them: a part's parameters are read only when
its headers name a file at all, in any of the spellings that can."""

from __future__ import annotations

from portalkit.rendering import render

MESSAGE = (
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    b'--b\r\nContent-Type: application/pdf; NAME="upper.pdf"\r\n\r\nx\r\n'
    b"--b\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.pdf\r\n\r\ny\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b'Content-Disposition: inline; FileName="notes.txt"\r\n\r\nz\r\n'
    b"--b\r\nContent-Type: application/zip\r\n\r\nw\r\n"
    b"--b--\r\n"
)


def test_every_spelling_of_a_file_name_is_found_and_a_part_without_one_gets_a_fallback():
    # given a message whose parts name their files in several spellings, and one that does not
    # when it is rendered
    rendered = render(MESSAGE)
    # then the body is the plain part without a name, and each other part is an attachment
    # under its own name (a text part with a name is an attachment, not the body)
    assert rendered.text == "body"
    assert [a.filename for a in rendered.attachments] == ["upper.pdf", "€.pdf", "notes.txt", "part-5.bin"]
