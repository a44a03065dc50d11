"""Secrets a service needs back, encrypted at rest.

Some secrets cannot be hashed like an API key: notify needs a webhook's signing secret to
sign each delivery, the outbox relay needs a tracking token to publish an event again after
a restore, intake needs the answer it gave to repeat it for a retried request. They are
stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under `LOKET_<SERVICE>_SECRET_KEY`,
so a copy of the database alone reveals none of them. Without that variable (a desk on one
machine) the key lives in a file of the var directory, made on first use and readable by
its owner only.

`python -m services.common.secret_box` prints a new key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken

from services.common.config import ConfigError, Settings, var_dir
from services.common.hashing import kept_secret


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret; raises ValueError when it was sealed under another key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("secret sealed under another key") from None


def key_variable(service: str) -> str:
    return f"LOKET_{service.upper()}_SECRET_KEY"


def parse_secret_key(environ: Mapping[str, str], name: str) -> str | None:
    """A key for encrypting stored secrets: 32 bytes, URL-safe base64 (a Fernet key)."""
    value = (environ.get(name) or "").strip() or None
    if value is None:
        return None
    try:
        valid = len(base64.urlsafe_b64decode(value.encode())) == 32
    except (ValueError, binascii.Error):
        valid = False
    if not valid:
        raise ConfigError(
            name, "must be 32 bytes in URL-safe base64 (python -m services.common.secret_box)"
        )
    return value


def service_box(settings: Settings) -> SecretBox:
    """The service's box: its key variable, else its key file in the var directory."""
    key = parse_secret_key(settings.environ, key_variable(settings.service))
    if key is None:
        key = kept_secret(
            var_dir(settings.environ) / f"{settings.service}-secret.key",
            lambda: Fernet.generate_key().decode(),
        )
    return SecretBox(key)


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
