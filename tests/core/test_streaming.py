"""core.streaming: the zip written while it is read and the mboxrd framing shared by the
mailbox exports and the Archive's exports."""

import datetime as dt
import io
import zipfile

from core.streaming import StreamingZip, mbox_message, zip_date_time


def test_a_streaming_zip_gives_each_member_out_as_soon_as_it_is_written():
    # given a zip with two members, taken out after each one
    out = StreamingZip()
    pieces = []
    with out.member("a/one.eml", when=dt.datetime(2025, 6, 10, 9, 30, 5)) as member:  # noqa: DTZ001
        member.write(b"Subject: one\r\n\r\nfirst\r\n" * 100)
    pieces.append(out.take())
    with out.member("a/two.eml", zip64=False) as member:
        member.write(b"Subject: two\r\n\r\nsecond\r\n")
    pieces.append(out.take())
    pieces.append(out.close())

    # then every step gave bytes out, nothing was held back for the end, and nothing is left
    assert all(pieces) and out.pending() == 0
    assert pieces[0].startswith(b"PK\x03\x04") and b"a/two.eml" not in pieces[0]
    assert b"a/two.eml" in pieces[1] and pieces[2].endswith(b"\x00" * 2)  # the central directory's end
    # and the pieces make one valid zip, deflated, with the times given
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["a/one.eml", "a/two.eml"]
        assert zf.read("a/one.eml") == b"Subject: one\r\n\r\nfirst\r\n" * 100
        one, two = zf.infolist()
        assert one.compress_type == zipfile.ZIP_DEFLATED and one.compress_size < one.file_size
        assert one.date_time == (2025, 6, 10, 9, 30, 4)  # zip keeps even seconds
        assert two.date_time == (1980, 1, 1, 0, 0, 0)
        # written as a stream: sizes in data descriptors after the data (flag bit 3)
        assert one.flag_bits & 0x08


def test_zip_times_before_1980_or_unknown_become_its_epoch():
    assert zip_date_time(None) == (1980, 1, 1, 0, 0, 0)
    assert zip_date_time(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == (1980, 1, 1, 0, 0, 0)
    assert zip_date_time(dt.datetime(2024, 2, 29, 23, 59, 58, tzinfo=dt.UTC)) == (2024, 2, 29, 23, 59, 58)


RAW = (
    b"From: Alice <alice@far.example>\r\nSubject: quoting\r\n\r\n"
    b"From here on\r\n>From there\r\n>>From afar\r\nnot From the start\r\nlast line"
)
WHEN = dt.datetime(2025, 6, 10, 9, 5, 3, tzinfo=dt.UTC)


def test_an_mbox_message_is_framed_and_quoted_as_mboxrd():
    framed = mbox_message(RAW, when=WHEN, sender="alice@far.example")
    assert framed == (
        b"From alice@far.example Tue Jun 10 09:05:03 2025\n"
        b"From: Alice <alice@far.example>\r\nSubject: quoting\r\n\r\n"
        b">From here on\r\n>>From there\r\n>>>From afar\r\nnot From the start\r\nlast line\n\n"
    )


def test_an_mbox_message_with_lf_line_ends_and_no_sender():
    framed = mbox_message(RAW, when=WHEN, lf_line_ends=True)
    assert framed == (
        b"From MAILER-DAEMON Tue Jun 10 09:05:03 2025\n"
        b"From: Alice <alice@far.example>\nSubject: quoting\n\n"
        b">From here on\n>>From there\n>>>From afar\nnot From the start\nlast line\n\n"
    )
    # a sender with a space would break the separator line: it cannot have one
    assert mbox_message(b"x\n", when=WHEN, sender="a b@x.test").startswith(b"From a_b@x.test Tue")
