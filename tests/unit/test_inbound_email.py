from email.message import EmailMessage

import pytest

from services.intake.inbound_email import MalformedEmail, parse


def message(**headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Jan Jansen <Jan@Example.org>")
    msg["Subject"] = headers.pop("Subject", "Printer broken")
    msg["Message-ID"] = headers.pop("Message_ID", "<abc@mail.example.org>")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    return msg


def test_a_multipart_message_with_encodings_and_attachments():
    msg = message()
    msg.set_content("Plain body with ümlauts and € signs.", charset="utf-8", cte="quoted-printable")
    msg.add_alternative("<p>HTML <b>body</b></p>", subtype="html")
    msg.add_attachment(b"\x89PNG" + b"\0" * 1000, maintype="image", subtype="png",
                       filename="photo.png")  # fmt: skip
    msg["Content-Language"] = "en"  # last: set_content and friends move content headers
    parsed = parse(msg.as_bytes())
    assert parsed.sender_address == "jan@example.org"
    assert parsed.sender_name == "Jan Jansen"
    assert parsed.subject == "Printer broken"
    assert parsed.body == "Plain body with ümlauts and € signs."
    assert parsed.language == "en"
    assert parsed.attachments == [
        {"filename": "photo.png", "content_type": "image/png", "size": 1004}
    ]
    assert parsed.message_id == "<abc@mail.example.org>"


def test_an_html_only_message_becomes_text_without_scripts():
    msg = message()
    msg.set_content("<html><script>alert(1)</script><p>Hello</p><p>desk</p></html>",
                    subtype="html", cte="base64")  # fmt: skip
    body = parse(msg.as_bytes()).body
    assert body.split() == ["Hello", "desk"]


def test_the_reference_in_a_reply_subject_is_found():
    msg = message(Subject="RE: Re: [LKT-000123] Printer broken")
    msg.set_content("still broken")
    assert parse(msg.as_bytes()).reference == "LKT-000123"
    other = message(Subject="About LKT-12")
    other.set_content("x")
    assert parse(other.as_bytes()).reference is None


def test_a_message_without_message_id_gets_a_stable_one():
    raw = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    assert parse(raw).message_id == parse(raw).message_id
    assert parse(raw).message_id != parse(raw + b"more").message_id


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "message"),
        (b"   \r\n", "message"),
        (b"just some text without headers", "message"),
        (b"Subject: no sender\r\n\r\nbody", "from"),
        (b"From: not an address\r\nSubject: x\r\n\r\nbody", "from"),
        (b"From: <>\r\nSubject: x\r\n\r\nbody", "from"),
    ],
)
def test_malformed_messages_name_what_is_wrong(raw, field):
    with pytest.raises(MalformedEmail) as failure:
        parse(raw)
    assert failure.value.field == field


def test_an_unknown_charset_does_not_break_parsing():
    raw = (b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=x-nonsense\r\n"
           b"\r\nbody \xff text\r\n")  # fmt: skip
    assert "body" in parse(raw).body


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        # raw UTF-8 (RFC 6532), as modern mailers send it
        (b"From: J\xc3\xbcrgen <j\xc3\xbcrgen@example.org>", "Jürgen", "jürgen@example.org"),
        (b"From: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd <ivan@example.org>", "Иван", "ivan@example.org"),
        # RFC 2047 encoded words
        (b"From: =?iso-8859-1?q?J=FCrgen?= <jurgen@example.org>", "Jürgen", "jurgen@example.org"),
        # raw bytes in a legacy charset
        (b"From: J\xfcrgen <jurgen@example.org>", "Jürgen", "jurgen@example.org"),
    ],
)
def test_sender_names_and_addresses_beyond_ascii_are_read_as_text(header, name, address):
    raw = header + b"\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\n\r\nK\xc3\xa4se \x00kapot\r\n"
    parsed = parse(raw)
    assert (parsed.sender_name, parsed.sender_address) == (name, address)
    assert (parsed.subject, parsed.body) == ("Grüße", "Käse kapot")
    for text in (parsed.sender_name, parsed.sender_address, parsed.subject, parsed.body):
        text.encode("utf-8")  # no lone surrogates left for a consumer to choke on


def test_a_body_without_charset_in_utf8_or_latin1_is_read():
    assert parse(b"From: a@example.org\r\n\r\nK\xc3\xa4se\r\n").body == "Käse"
    assert parse(b"From: a@example.org\r\n\r\nK\xe4se\r\n").body == "Käse"


def test_a_message_from_several_senders_is_refused():
    with pytest.raises(MalformedEmail) as failure:
        parse(b"From: jan@example.org, eve@example.net\r\nSubject: x\r\n\r\nbody")
    assert failure.value.field == "from"


def test_a_message_of_too_many_parts_is_refused_before_it_is_parsed():
    many = [b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"]
    for n in range(40_000):
        many.append(b"--b\r\nContent-Type: application/octet-stream\r\n")
        many.append(b'Content-Disposition: attachment; filename="%d"\r\n\r\nx\r\n' % n)
    many.append(b"--b--\r\n")
    with pytest.raises(MalformedEmail, match="more than 200 parts"):
        parse(b"".join(many))


def test_a_message_nested_thousands_deep_is_refused_not_a_crash():
    depth = 3000
    head = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    nested = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (n, n + 1)
        for n in range(depth)
    )
    with pytest.raises(MalformedEmail, match="nests more than"):
        parse(head + nested + b"--b3000\r\n\r\nx\r\n")


def test_an_ordinary_message_with_attachments_and_a_signature_is_read():
    msg = message()
    msg.set_content("Hello\n-- \nJan\n--\nsent from my phone")
    for n in range(10):
        msg.add_attachment(b"data", maintype="application", subtype="pdf", filename=f"{n}.pdf")
    assert len(parse(msg.as_bytes()).attachments) == 10
