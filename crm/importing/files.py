"""Reading an uploaded spreadsheet as a header and a stream of rows, whatever it is.

`open_table(file)` takes a seekable binary file (the upload spooled to a temporary file) and
returns a `Table`: its format, encoding and delimiter as detected, its header, and `rows()`,
which reads the data rows one at a time from the file each time it is called (memory stays
flat in the file's size). Files as people have them:

- CSV in UTF-8 with or without a byte-order mark, UTF-16 (Excel's "Unicode text", with or
  without a BOM) or Windows-1252 (what Excel in Western Europe saves as "CSV"); comma,
  semicolon, tab or pipe separated, found from the first lines.
- XLSX, the first sheet, read in openpyxl's read-only (streaming) mode after the archive
  passed the limits against zip bombs (`check_xlsx_archive`); formulas are read as their
  text, never evaluated.

Everything wrong with a file as a whole (empty, too large, not CSV or XLSX, a broken or
bloated archive, no header row) raises `ImportFileError` with a message for the user.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.utils.translation import gettext as _

from crm.importing.errors import ImportFileError

CSV = "csv"
XLSX = "xlsx"

# Read this much to find the encoding's kind and the delimiter.
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
# A header wider than this is not a table of records.
MAX_COLUMNS = 300
# Blank rows skipped before the header row.
MAX_LEADING_BLANK_ROWS = 20
# One cell; csv's own default, stated here so a monster cell is a clear error.
MAX_CELL_CHARS = 131_072

# Zip bomb limits for XLSX archives: the sum of the members' uncompressed sizes, and the
# compression ratio of any large member. zipfile stops reading a member at its declared size
# (and then fails its CRC check), so the declared sizes bound what is really inflated.
XLSX_MAX_UNCOMPRESSED_BYTES = 250 * 1024 * 1024
XLSX_MAX_RATIO = 200
XLSX_RATIO_CHECK_FROM = 1024 * 1024
XLSX_MAX_MEMBERS = 2000

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and other OLE files)


@dataclass
class Table:
    """A file's header and a way to read its rows (see the module's docstring)."""

    format: str
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    # The spreadsheet row number of the header (1 unless blank rows came first).
    header_row: int = 1
    _file: BinaryIO | None = field(default=None, repr=False)

    def rows(self) -> Iterator[tuple[int, list]]:
        """(spreadsheet row number, cells) of every non-blank data row, read from the file.
        CSV cells are text; XLSX cells are text, numbers, booleans, dates or datetimes.
        Rows are padded or cut to the header's width."""
        width = len(self.headers)
        reader = self._csv_rows() if self.format == CSV else self._xlsx_rows()
        for number, cells in reader:
            if number <= self.header_row or _blank(cells):
                continue
            if len(cells) < width:
                cells = list(cells) + [None] * (width - len(cells))
            elif len(cells) > width:
                cells = list(cells[:width])
            yield number, cells

    def _csv_rows(self) -> Iterator[tuple[int, list]]:
        self._file.seek(0)
        text = io.TextIOWrapper(self._file, encoding=self.encoding, newline="")
        try:
            reader = csv.reader(text, delimiter=self.delimiter)
            number = 0
            try:
                for number, cells in enumerate(reader, start=1):
                    yield number, cells
            except csv.Error as error:
                raise ImportFileError(
                    _("Row %(row)s could not be read: %(error)s")
                    % {"row": number + 1, "error": error}
                ) from error
            except UnicodeDecodeError as error:
                raise ImportFileError(
                    _("Row %(row)s is not valid %(encoding)s text.")
                    % {"row": number + 1, "encoding": self.encoding}
                ) from error
        finally:
            text.detach()

    def _xlsx_rows(self) -> Iterator[tuple[int, list]]:
        workbook = _open_workbook(self._file)
        try:
            sheet = workbook.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(cells)
        finally:
            workbook.close()


def _blank(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def open_table(file: BinaryIO, *, max_bytes: int) -> Table:
    """The table in `file` (binary, seekable), or ImportFileError."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    if size > max_bytes:
        raise ImportFileError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": _megabytes(size), "limit": _megabytes(max_bytes)}
        )
    head = file.read(8)
    file.seek(0)
    if head.startswith(_ZIP_MAGIC):
        table = Table(format=XLSX, headers=[], _file=file)
        check_xlsx_archive(file)
    elif head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            _("This is an old Excel file (.xls). Save it as .xlsx or CSV and upload that.")
        )
    else:
        encoding = detect_encoding(file)
        sample = _text_sample(file, encoding)
        if not _looks_like_text(sample):
            raise ImportFileError(_("This is not a CSV or XLSX file."))
        table = Table(
            format=CSV, headers=[], encoding=encoding, delimiter=sniff_delimiter(sample), _file=file
        )
    table.header_row, table.headers = _read_header(table)
    return table


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


# --- encodings -----------------------------------------------------------------------------


def detect_encoding(file: BinaryIO) -> str:
    """The codec to read `file` with: a byte-order mark decides (UTF-8, UTF-16); UTF-16
    without one shows as a zero byte in every other place; otherwise UTF-8 if the whole file
    decodes as UTF-8 (checked in pieces, memory stays flat), else Windows-1252, the "ANSI"
    of Excel in Western Europe (ISO-8859-1 for the five bytes it leaves undefined)."""
    file.seek(0)
    head = file.read(SAMPLE_BYTES)
    file.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = len(head) // 2
    if pairs >= 2:
        even_zeros = sum(1 for i in range(0, pairs * 2, 2) if head[i] == 0)
        odd_zeros = sum(1 for i in range(1, pairs * 2, 2) if head[i] == 0)
        if odd_zeros > pairs * 0.3 and even_zeros < pairs * 0.05:
            return "utf-16-le"
        if even_zeros > pairs * 0.3 and odd_zeros < pairs * 0.05:
            return "utf-16-be"
    for encoding in ("utf-8", "cp1252"):
        if _decodes_whole(file, encoding):
            return encoding
    return "latin-1"


def _decodes_whole(file: BinaryIO, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    file.seek(0)
    try:
        while chunk := file.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)
    return True


def _text_sample(file: BinaryIO, encoding: str) -> str:
    """The first lines of the file as text (a partial last line dropped)."""
    file.seek(0)
    raw = file.read(SAMPLE_BYTES)
    file.seek(0)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=False)
    text = text.lstrip("\ufeff")
    if len(raw) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]
    return text


def _looks_like_text(sample: str) -> bool:
    """Text, not a binary file read as Windows-1252: hardly any control characters."""
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    return controls <= len(sample) // 100


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's lines into the same number (above one) of
    cells most consistently; ties go to the one giving more cells. A comma when no
    candidate splits anything (a one-column file)."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)]
        except csv.Error:
            continue
        counts = [count for count in counts[:50] if count > 0]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- XLSX ----------------------------------------------------------------------------------


def check_xlsx_archive(file: BinaryIO) -> None:
    """Refuse an archive that is not a workbook, is broken, or would inflate beyond the
    limits (a zip bomb), before openpyxl opens it."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
            if len(members) > XLSX_MAX_MEMBERS:
                raise ImportFileError(_("This XLSX file has too many parts to be a workbook."))
            total = 0
            for member in members:
                total += member.file_size
                if (
                    member.file_size > XLSX_RATIO_CHECK_FROM
                    and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1)
                ):
                    raise ImportFileError(
                        _("This XLSX file unpacks to far more than its size; it was not read.")
                    )
            if total > XLSX_MAX_UNCOMPRESSED_BYTES:
                raise ImportFileError(
                    _("This XLSX file unpacks to more than %(limit)s MB; it was not read.")
                    % {"limit": XLSX_MAX_UNCOMPRESSED_BYTES // (1024 * 1024)}
                )
            if "xl/workbook.xml" not in names:
                raise ImportFileError(_("This is a zip archive, not an Excel workbook (.xlsx)."))
    except zipfile.BadZipFile as error:
        raise ImportFileError(_("This XLSX file is damaged and could not be read.")) from error
    finally:
        file.seek(0)


def _open_workbook(file: BinaryIO):
    from openpyxl import load_workbook

    file.seek(0)
    try:
        workbook = load_workbook(file, read_only=True, data_only=False, keep_links=False)
    except ImportFileError:
        raise
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ImportFileError(_("This XLSX file is damaged and could not be read.")) from error
    if not workbook.worksheets:
        workbook.close()
        raise ImportFileError(_("This workbook has no sheet to import."))
    return workbook


# --- the header --------------------------------------------------------------------------


def _read_header(table: Table) -> tuple[int, list[str]]:
    """(row number, names) of the first non-blank row, which must look like column names."""
    reader = table._csv_rows() if table.format == CSV else table._xlsx_rows()
    try:
        for number, cells in reader:
            if not _blank(cells):
                return number, _header_names(cells)
            if number > MAX_LEADING_BLANK_ROWS:
                break
    except ImportFileError:
        raise
    except Exception as error:  # noqa: BLE001 - a file broken beyond its first bytes
        raise ImportFileError(_("The file could not be read.")) from error
    finally:
        reader.close()
    raise ImportFileError(_("The file has no header row: the first row must name the columns."))


def _header_names(cells: list) -> list[str]:
    while cells and (cells[-1] is None or str(cells[-1]).strip() == ""):
        cells = cells[:-1]
    if len(cells) > MAX_COLUMNS:
        raise ImportFileError(
            _("The file has %(count)s columns; at most %(limit)s can be imported.")
            % {"count": len(cells), "limit": MAX_COLUMNS}
        )
    names: list[str] = []
    looks_like_data = 0
    for index, cell in enumerate(cells):
        name = "" if cell is None else str(cell).strip().lstrip("\ufeff")
        if isinstance(cell, int | float) or (name and _looks_like_a_value(name)):
            looks_like_data += 1
        if len(name) > 200:
            raise ImportFileError(_("The first row must name the columns, briefly."))
        name = name or _("Column %(letter)s") % {"letter": column_letter(index)}
        names.append(name)
    if looks_like_data and looks_like_data >= max(1, len(names) // 2):
        raise ImportFileError(
            _(
                "The file has no header row: its first row holds values (numbers, dates, "
                "e-mail addresses), not column names."
            )
        )
    return _unique(names)


def _looks_like_a_value(name: str) -> bool:
    stripped = name.replace(".", "").replace(",", "").replace("-", "").replace("/", "")
    stripped = stripped.replace(" ", "").replace(":", "")
    return stripped.isdigit() or ("@" in name and "." in name.split("@")[-1])


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        key = name.casefold()
        seen[key] = seen.get(key, 0) + 1
        unique.append(name if seen[key] == 1 else f"{name} ({seen[key]})")
    return unique


def column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA": a column as a spreadsheet names it."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
