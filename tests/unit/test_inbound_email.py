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
