"""Files as people have them: encodings, delimiters, XLSX, and files that cannot be read."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from crm.importing import files
from crm.importing.errors import ImportFileError
from crm.importing.files import CSV, XLSX, open_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
LIMIT = 20 * 1024 * 1024


def table_of(data: bytes, **kwargs):
    return open_table(io.BytesIO(data), max_bytes=kwargs.get("max_bytes", LIMIT))


def rows_of(table) -> list[list]:
    return [cells for _number, cells in table.rows()]


TEXT = "Navn,By\nSøren Ærbø,Ærøskøbing\nJürgen Weiß,Straße\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with a byte-order mark
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_every_encoding_reads_the_same_names_exactly(data, encoding):
    table = table_of(data)
    assert table.encoding == encoding
    assert table.headers == ["Navn", "By"]
    assert rows_of(table) == [["Søren Ærbø", "Ærøskøbing"], ["Jürgen Weiß", "Straße"]]


def test_a_utf8_file_whose_only_non_ascii_letter_is_far_down_is_still_utf8():
    data = ("Name\n" + "Acme\n" * 40_000 + "Æbelø\n").encode("utf-8")
    table = table_of(data)
    assert table.encoding == "utf-8"
    assert rows_of(table)[-1] == ["Æbelø"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;12,5;3\n4;1.250,00;6\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('name,note\n"Smith; Jones","a; b; c"\n', ","),
        ("only\none\n", ","),
    ],
)
def test_the_delimiter_is_detected(text, delimiter):
    assert table_of(text.encode()).delimiter == delimiter


def test_quoted_cells_keep_delimiters_and_line_breaks():
    table = table_of(b'name,address\n"Smith & Co, Ltd","Street 1\nCity"\n')
    assert rows_of(table) == [["Smith & Co, Ltd", "Street 1\nCity"]]


def test_blank_rows_are_skipped_and_short_rows_padded():
    table = table_of(b"\n\na,b,c\n1,2\n,,\n\n4,5,6,7\n")
    assert table.header_row == 3
    assert list(table.rows()) == [(4, ["1", "2", None]), (7, ["4", "5", "6"])]


def test_duplicate_and_empty_header_names_are_told_apart():
    table = table_of(b"Email,,email,x\n1,2,3,4\n")
    assert table.headers == ["Email", "Column B", "email (2)", "x"]


def test_danish_excel_semicolon_file_in_windows_1252():
    with open(FIXTURES / "danish_excel_deals.csv", "rb") as file:
        table = open_table(file, max_bytes=LIMIT)
        assert (table.format, table.encoding, table.delimiter) == (CSV, "cp1252", ";")
        assert table.headers[:5] == ["Firma", "Kontaktperson", "E-mail", "Titel", "Beløb"]
        first = rows_of(table)[0]
    assert first[:2] == ["Brødrene Æbelø A/S", "Søren Ærbø"]
    assert first[4] == "12.500,50"


def test_excel_unicode_text_is_utf16_with_tabs():
    with open(FIXTURES / "unicode_text_contacts.txt", "rb") as file:
        table = open_table(file, max_bytes=LIMIT)
        assert (table.encoding, table.delimiter) == ("utf-16", "\t")
        rows = rows_of(table)
    assert rows[0][:2] == ["Jürgen", "Weiß"]
    assert rows[1][:2] == ["Åsa", "Öberg"]


def test_xlsx_cells_keep_their_types():
    with open(FIXTURES / "hubspot_companies.xlsx", "rb") as file:
        table = open_table(file, max_bytes=LIMIT)
        assert table.format == XLSX
        assert table.headers[:3] == ["Record ID", "Company name", "Company owner"]
        rows = rows_of(table)
    assert rows[0][0] == 7100000001
    assert rows[0][3] == datetime(2025, 3, 4, 9, 15)
    assert rows[2][1] == "Ærø Energi ApS"
    assert rows[5][1] == "=1+2"  # a text cell, kept as text


def _xlsx(**cells) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for address, value in cells.items():
        sheet[address] = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_formula_is_read_as_its_text_never_evaluated():
    table = table_of(_xlsx(A1="Name", A2='=HYPERLINK("http://evil.example","x")'))
    assert rows_of(table) == [['=HYPERLINK("http://evil.example","x")']]


def _refused(data: bytes, **kwargs) -> str:
    with pytest.raises(ImportFileError) as refused:
        table_of(data, **kwargs)
    return refused.value.message


def test_an_empty_file_is_refused():
    assert "empty" in _refused(b"")


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    assert "too large" in _refused(b"a,b\n" + b"1,2\n" * 1000, max_bytes=1000)


def test_a_file_without_a_header_row_is_refused():
    assert "header" in _refused((FIXTURES / "no_header.csv").read_bytes())
    assert "header" in _refused(b"\n\n\n")
    assert "header" in _refused(b"alice@example.com,bob@example.com\n")


def test_a_broken_xlsx_is_refused():
    data = (FIXTURES / "hubspot_companies.xlsx").read_bytes()
    assert "damaged" in _refused(data[: len(data) // 2])


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hello")
    assert "not an Excel workbook" in _refused(buffer.getvalue())


def test_a_zip_bomb_is_refused_by_its_compression_ratio():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100_000
    assert "unpacks" in _refused(data)


def test_a_workbook_unpacking_beyond_the_total_limit_is_refused(monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_UNCOMPRESSED_BYTES", 10_000)
    assert "unpacks to more than" in _refused(_xlsx(A1="Name", A2="x" * 20_000))


def test_an_old_binary_xls_is_refused_with_advice():
    assert ".xlsx" in _refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)


def test_a_binary_file_is_refused():
    assert "not a CSV" in _refused(bytes(range(256)) * 50)


def test_too_many_columns_are_refused():
    header = ",".join(f"c{i}" for i in range(files.MAX_COLUMNS + 1))
    assert "columns" in _refused(f"{header}\n".encode())


def test_rows_are_read_again_from_the_file_on_each_call():
    table = table_of(b"a\n1\n2\n")
    assert rows_of(table) == rows_of(table) == [["1"], ["2"]]


def test_column_letters():
    assert [files.column_letter(i) for i in (0, 25, 26, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "ZZ",
        "AAA",
    ]
