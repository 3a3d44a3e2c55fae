"""Markdown tables for Dagster metadata (previews, per-delivery counts, check findings)."""
import pandas as pd

EMPTY = "_keine Zeilen / no rows_"


def _text(value, floatfmt: str) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    text = format(value, floatfmt) if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, limit: int = 20, floatfmt: str = "g", empty: str = EMPTY) -> str:
    """The first `limit` rows of `frame` as a markdown table, '… N weitere / more' below it when rows
    are left out, `empty` for no rows. Cells become text first (at most `limit` rows): missing values
    blank, floats in `floatfmt`, pipes escaped and line breaks flattened (tabulate does neither, and
    either breaks the table), and no re-parsing of numbers, so a district key like 05766 keeps its
    zero. Columns are not padded to a common width (stralign=None): the text stays as short as the
    cells, and markdown does not need it."""
    if frame.empty:
        return empty
    shown = frame.head(limit).astype(object).map(lambda value: _text(value, floatfmt))
    shown.columns = [str(column) for column in shown.columns]
    table = shown.to_markdown(index=False, disable_numparse=True, stralign=None)
    if len(frame) > limit:
        table += f"\n\n… {len(frame) - limit} weitere / more"
    return table
