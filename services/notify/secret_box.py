"""Webhook secrets, encrypted at rest.

A signing secret cannot be hashed like an API key: notify needs it back to sign each
delivery. It is stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under
`LOKET_NOTIFY_SECRET_KEY`, so a copy of the database alone does not let anyone forge
Loket's signature. Without that variable (a desk on one machine) the key lives in a file
of the var directory, made on first use and readable by its owner only.

`python -m services.notify.secret_box` prints a new key.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from services.common.config import Settings, var_dir
from services.common.hashing import kept_secret
from services.notify.settings import notify_settings

KEY_FILE_NAME = "notify-secret.key"


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        return cls(
            notify_settings(settings).secret_key or _key_from_file(var_dir() / KEY_FILE_NAME)
        )

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret; raises ValueError when it was sealed under another key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("secret sealed under another key") from None


def _key_from_file(path: Path) -> str:
    return kept_secret(path, lambda: Fernet.generate_key().decode())


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
