"""Simplified Chinese for the pages: messages keyed by their English text, and value labels."""

MESSAGES_ZH: dict[str, str] = {}
LABELS_ZH: dict[str, dict[str, str]] = {}
