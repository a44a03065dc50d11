"""People's accounts for the console: Argon2 hashes only, changes seen without a restart."""

from services.common import accounts
from services.common.accounts import AccountBook, add_account, change_account, set_password
from services.common.watched import Watched


def test_a_person_signs_in_with_their_password_and_only_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(Watched, "RECHECK_SECONDS", 0)
    path = tmp_path / "accounts.yaml"
    first = add_account(path, "ann", "agent")
    text = path.read_text()
    assert first not in text and "$argon2id$" in text  # the hash, never the password
    book = AccountBook(path)
    ann = book.sign_in("ann", first)
    assert ann is not None and ann.role == "agent"
    assert book.sign_in("ann", "wrong") is None
    assert book.sign_in("nobody", first) is None

    second = set_password(path, "ann")
    assert book.sign_in("ann", first) is None and book.sign_in("ann", second) is not None
    assert book.find("ann").changed_at >= ann.changed_at  # older sessions end
    change_account(path, "ann", disabled=True)
    assert book.find("ann") is None and book.sign_in("ann", second) is None
    assert accounts.list_accounts(path) == [{"name": "ann", "role": "agent", "disabled": True}]


def test_the_command_adds_lists_and_refuses_what_it_cannot_do(tmp_path, capsys):
    path = str(tmp_path / "accounts.yaml")
    assert accounts.main(["--file", path, "add", "--name", "ben", "--role", "supervisor"]) == 0
    password = capsys.readouterr().out.strip()
    assert len(password) >= 16
    assert accounts.main(["--file", path, "add", "--name", "ben", "--role", "agent"]) == 2
    assert accounts.main(["--file", path, "disable", "--name", "nobody"]) == 2
    assert accounts.main(["--file", path, "list"]) == 0
    assert "ben" in capsys.readouterr().out
