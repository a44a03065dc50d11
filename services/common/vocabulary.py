"""The contract's words every service and front-end shares (docs/ARCHITECTURE.md)."""

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")
LANGUAGES = ("nl", "en")
PRIORITIES = (1, 2, 3, 4)  # 1 is the highest
