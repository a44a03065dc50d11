"""How secrets (API keys, tracking and survey tokens) are stored: never in plain text."""

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path


def secret_digest(secret: str) -> str:
    """SHA-256, hex. The secrets are long and random, so no salt or stretching is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """A desk on one machine keeps a secret it needs (a sealing or signing key) in a file
    of its var directory, made on first use and readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        # O_EXCL: two processes starting at once agree on the first secret written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(make())
    for _ in range(50):
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{path} stays empty")
