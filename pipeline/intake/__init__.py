"""Intake: district files -> the warehouse, by the delivery contract.

    inbox.py    what each inbox file is (by its name), its SHA-256, the archive
    reader.py   the one reader: a file's bytes -> text rows per feed, or file-level problems (CSV here)
    workbook.py XLSX: every part inflated and each sheet's used range checked before calamine reads it
    header.py   a grid of text -> one feed's rows: header search, forbidden/missing columns, row_problem
    receive.py  a run's files -> receipts, sheets, raw_<feed>
    privacy.py  person keys that break the pseudonym rules: masked before anything is stored
    values.py   text -> contract types (dates, numbers, enums, ranges), column-wise
    screen.py   the feed's GX suite compiled to SQL: which rows could fail a rule
    suite.py    the GX suite run over the doubtful rows, failures -> rejections
    stage.py    raw_<feed> -> stg_<feed> for given quarters (typing, screen, suite)
    check.py    `teilhabe check`: the same path into an in-memory warehouse
"""
