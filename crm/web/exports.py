"""The downloads of the forecast and analytics tables: one list of rows, written as CSV or as
XLSX by the same helper, so both files always hold the same rows.

A row is a list of plain values, typed for what they mean:

- `str`: text. A text cell a spreadsheet would run as a formula (`= + - @`, tab, CR, LF at the
  start) gets a leading apostrophe in both formats (`csv_safe`); characters an XLSX file may
  not hold (control characters) are dropped there.
- `int`: a count. `Decimal`: money in the reporting currency, two decimals ("1234.50" in the
  CSV, a number formatted `#,##0.00` in the workbook, which Excel then shows in the user's own
  separators: the reason XLSX exists beside CSV).
- `Percent(ratio)`: a share, whole percent in the CSV ("45"), the ratio formatted `0%` in the
  workbook. `Days(value)`: days to one decimal.
- `date`: an ISO date in the CSV, a date cell in the workbook. `None`: an empty cell.

The first row is the header (bold in the workbook, and kept in view when scrolling).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0%"
DAYS_FORMAT = "0.0"
DATE_FORMAT = "yyyy-mm-dd"
MAX_COLUMN_WIDTH = 48


@dataclass(frozen=True)
class Percent:
    ratio: Decimal | float | None


@dataclass(frozen=True)
class Days:
    value: float | None


def csv_safe(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_response(file_format: str, *, name: str, rows: Iterable[list]) -> HttpResponse:
    """The rows as a download named `name` plus the format's extension."""
    if file_format == "xlsx":
        return xlsx_response(name=name, rows=rows)
    return csv_response(name=name, rows=rows)


# --- CSV -------------------------------------------------------------------------------------


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, Percent):
        return "" if value.ratio is None else f"{round(float(value.ratio) * 100)}"
    if isinstance(value, Days):
        return "" if value.value is None else f"{value.value:.1f}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return csv_safe(value)


def csv_response(*, name: str, rows: Iterable[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")  # spreadsheets read the file as UTF-8 (ø, å, ü)
    csv.writer(response).writerows([_csv_value(v) for v in row] for row in rows)
    return response


# --- XLSX ------------------------------------------------------------------------------------


def _xlsx_cell(value) -> tuple[object, str | None]:
    """(the cell's value, its number format)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, Percent):
        return (None if value.ratio is None else float(value.ratio)), PERCENT_FORMAT
    if isinstance(value, Days):
        return (None if value.value is None else round(value.value, 1)), DAYS_FORMAT
    if isinstance(value, Decimal):
        return value, MONEY_FORMAT
    if isinstance(value, datetime):  # a workbook has no time zones: the local wall time
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None), f"{DATE_FORMAT} hh:mm"
    if isinstance(value, date):
        return value, DATE_FORMAT
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", csv_safe(value)), None
    return value, None


def _width(value, number_format: str | None) -> int:
    if value is None:
        return 0
    if number_format:  # numbers: about their digits, separators included
        return len(f"{value:,.2f}") if isinstance(value, Decimal | float) else 12
    return len(str(value))


def xlsx_workbook(rows: Iterable[list]) -> bytes:
    """The rows as an XLSX workbook of one sheet (the first row a bold, frozen header)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    bold = Font(bold=True)
    widths: dict[int, int] = {}
    for row_number, row in enumerate(rows, start=1):
        for column, raw in enumerate(row, start=1):
            value, number_format = _xlsx_cell(raw)
            cell = sheet.cell(row=row_number, column=column)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            if number_format:
                cell.number_format = number_format
            if row_number == 1:
                cell.font = bold
            widths[column] = max(widths.get(column, 8), _width(value, number_format) + 2)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(width, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(*, name: str, rows: Iterable[list]) -> HttpResponse:
    response = HttpResponse(xlsx_workbook(rows), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


# --- long lists, streamed ---------------------------------------------------------------------

XLSX_STREAM_WIDTH = 18


class _Echo:
    """A file-like object whose write() gives the line back, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def export_stream(
    file_format: str, *, name: str, header: list, rows: Iterable[list]
) -> HttpResponse:
    """The lists' downloads (companies, contacts, deals), which may run to tens of thousands
    of rows: the same typed cells and formula safety as `export_response`, written as the rows
    are read, so memory stays flat. CSV streams; XLSX is written in openpyxl's write-only
    mode to a temporary file and sent from it. The header's names (lazily translated) are
    read now, in the language of the request."""
    header = [str(title) for title in header]
    if file_format == "xlsx":
        return _xlsx_stream(name=name, header=header, rows=rows)
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_csv_value(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _xlsx_stream(*, name: str, header: list[str], rows: Iterable[list]) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.freeze_panes = "A2"
    for column, title in enumerate(header, start=1):
        width = min(max(XLSX_STREAM_WIDTH, len(title) + 2), MAX_COLUMN_WIDTH)
        sheet.column_dimensions[get_column_letter(column)].width = width
    bold = Font(bold=True)
    cells = []
    for title in header:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        cells = []
        for raw in row:
            value, number_format = _xlsx_cell(raw)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    file = tempfile.TemporaryFile()
    workbook.save(file)
    file.seek(0)
    response = FileResponse(file, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response
