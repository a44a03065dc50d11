"""How secrets (API keys, tracking and survey tokens) are stored: never in plain text."""

import hashlib


def secret_digest(secret: str) -> str:
    """SHA-256, hex. The secrets are long and random, so no salt or stretching is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()
