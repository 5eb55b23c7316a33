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


def test_raw_utf8_subject_of_smtputf8_mail_is_read_as_utf8():
    # RFC 6532: SMTPUTF8 mail carries UTF-8 in the header itself (compat32 marks it unknown-8bit)
    headers = parse_headers("Subject: Grüße ☃\r\nMessage-ID: <ü@b.example>\r\n\r\nbody".encode())
    assert headers.subject == "Grüße ☃"


def test_raw_latin1_subject_falls_back_to_latin1():
    assert parse_headers(b"Subject: caff\xe8 e cornetto\r\n\r\nbody").subject == "caffè e cornetto"
