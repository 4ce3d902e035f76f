"""Refusals raised by the services; views turn them into answers for the user."""

from __future__ import annotations

from crm.rules import RuleError


class DealRuleError(RuleError):
    """A business rule refused the change; the message is shown to the user."""
