"""Reading spreadsheets for the import: pure functions of a file's bytes, no database.

- `files`: the file as a header and a stream of rows (encodings, delimiters, XLSX with zip
  bomb limits), `ImportFileError` for a file that cannot be imported at all.
- `values`: numbers and dates as people write them, read once per column.
- `headers`: the fields a column can fill and the headers recognised without help (ours,
  HubSpot's, Pipedrive's).
- `records`: the columns' profile, one reading per column, and rows turned into typed
  values with their problems by row and column.

The writes (matching, creating, updating, undo) are `crm.services.imports`; the reads and
access doors `crm.selectors.imports`.
"""
