from mta.acceptance import fingerprint_of, parse_headers


def test_subject_is_decoded_and_message_id_read_from_the_header_block_only():
    content = (
        b"Subject: =?utf-8?q?Caff=C3=A8_e?=\r\n =?utf-8?q?_cornetto?=\r\nMessage-ID: <a@b.example>\r\n\r\n"
        b"Subject: not a header\r\n"
    )
    headers = parse_headers(content)
    assert (headers.subject, headers.message_id) == ("Caffè e cornetto", "<a@b.example>")


def test_broken_headers_do_not_refuse_the_message():
    assert parse_headers(b"Subject: =?bogus?x?zz?=\r\n\r\nbody") is not None


def test_fingerprint_depends_on_sender_and_bytes():
    assert fingerprint_of("a@x", b"m") == fingerprint_of("a@x", b"m")
    assert fingerprint_of("a@x", b"m") != fingerprint_of("b@x", b"m")
    assert fingerprint_of("a@x", b"m") != fingerprint_of("a@x", b"m ")
