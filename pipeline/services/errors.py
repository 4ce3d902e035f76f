"""Refusals raised by the services; views turn them into answers for the user."""

from __future__ import annotations


class DealRuleError(Exception):
    """A business rule refused the change; the message is shown to the user."""
