"""Intake: the desk's front door for every channel."""
