"""`make mail`'s listing of what the first run kept: any message a desk sends, in words."""

from email.message import EmailMessage

from services.mailcatcher import list_messages, summary


def test_a_message_beyond_ascii_is_listed_with_its_first_link(tmp_path, capsys):
    message = EmailMessage()
    message["To"] = "Jürgen Großmann <jürgen@example.org>"
    message["Subject"] = "[LKT-000007] Wij bellen u terug, meneer Öztürk"
    message.set_content("Beste Jürgen,\n\nhttp://localhost:8080/track/LKT-000007?token=t&lang=nl\n")
    message.add_alternative("<p>Beste Jürgen</p>", subtype="html")
    path = tmp_path / "one.eml"
    path.write_bytes(message.as_bytes())
    assert summary(path).splitlines() == [
        "one.eml  to Jürgen Großmann <jürgen@example.org>",
        "  [LKT-000007] Wij bellen u terug, meneer Öztürk",
        "  http://localhost:8080/track/LKT-000007?token=t&lang=nl",
    ]
    assert list_messages(tmp_path) == 0
    assert "1 message in" in capsys.readouterr().out
