"""Queue: fair order across channels, honest status and wait."""
