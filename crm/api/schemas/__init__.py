"""The API's bodies, query strings and answers, one module per subject; `common` holds the
pieces every subject uses (ids, bounded text, the error and page shapes)."""
