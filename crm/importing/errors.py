"""What can be wrong with an import, as a whole file or as one cell."""

from __future__ import annotations

from dataclasses import dataclass

from crm.rules import RuleError


class ImportFileError(RuleError):
    """The file as a whole cannot be imported (empty, too large, not a spreadsheet, a broken
    or bloated archive, no header row). Raised before anything is written; the message is
    for the user (400)."""


ERROR = "error"  # the row is left out
WARNING = "warning"  # the row is imported without this value


@dataclass(frozen=True)
class Problem:
    """A problem in one cell (or one row, when `column` is empty), by spreadsheet row number
    and column name as the file has them."""

    row: int
    column: str
    message: str
    severity: str = ERROR

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
        }
