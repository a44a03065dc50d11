import pytest
import yaml

from services.common.auth import KeyRing, Principal, add_key
from services.common.config import ConfigError


def test_added_key_is_stored_only_as_its_hash(tmp_path):
    path = tmp_path / "keys.yaml"
    key = add_key(path, "web-portal", "client", ["web", "callback"])
    stored = path.read_text()
    assert key not in stored
    entry = yaml.safe_load(stored)["keys"][0]
    assert entry["name"] == "web-portal" and len(entry["sha256"]) == 64
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_keyring_finds_the_principal_of_a_key_and_nobody_for_another(tmp_path):
    path = tmp_path / "keys.yaml"
    key = add_key(path, "phone-ivr", "client", ["phone", "callback"])
    add_key(path, "alice", "agent")
    ring = KeyRing.load(path)
    principal = ring.authenticate(key)
    assert principal == Principal("phone-ivr", "client", frozenset({"phone", "callback"}))
    assert ring.authenticate(key + "x") is None
    assert ring.authenticate("") is None


def test_channels_limit_what_a_client_may_submit():
    ivr = Principal("phone-ivr", "client", frozenset({"phone", "callback"}))
    assert ivr.may_submit("phone")
    assert not ivr.may_submit("walk_in")
    # Staff record the contacts they take by voice or face, and only those.
    alice = Principal("alice", "agent")
    assert alice.may_submit("phone") and alice.may_submit("walk_in")
    assert not any(alice.may_submit(c) for c in ("web", "email", "chat", "callback"))
    portal = Principal("loket-portal", "portal", frozenset({"web", "callback"}))
    assert portal.may_submit("web") and not portal.may_submit("walk_in")


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        ("agent", "agent", True),
        ("supervisor", "agent", True),
        ("admin", "supervisor", True),
        ("agent", "supervisor", False),
        ("supervisor", "admin", False),
        ("client", "agent", False),
        ("admin", "client", False),
        ("client", "client", True),
        # The portal submits as a client does; it is no agent by itself (issue 19: it
        # acts for signed-in people).
        ("portal", "client", True),
        ("portal", "agent", False),
        ("client", "portal", False),
        ("admin", "portal", False),
    ],
)
def test_staff_roles_include_the_ones_below_and_clients_are_apart(role, needed, allowed):
    assert Principal("x", role).has_role(needed) is allowed


def test_duplicate_names_and_clients_without_channels_are_refused(tmp_path):
    path = tmp_path / "keys.yaml"
    add_key(path, "alice", "agent")
    with pytest.raises(ValueError, match="exists"):
        add_key(path, "alice", "agent")
    with pytest.raises(ValueError, match="channel"):
        add_key(path, "kiosk", "client", [])


def test_a_broken_keys_file_names_the_variable(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n  - {name: x, role: wizard, sha256: abc}\n")
    with pytest.raises(ConfigError) as failure:
        KeyRing.load(path)
    assert failure.value.variable == "LOKET_API_KEYS_FILE"
