"""Markdown tables for Dagster metadata (previews, per-delivery counts, check findings)."""
import pandas as pd


def _cell(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    return (f"{value:g}" if isinstance(value, float) else str(value)).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, limit: int = 20) -> str:
    if frame.empty:
        return "_keine Zeilen / no rows_"
    shown = frame.head(limit)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    if len(frame) > limit:
        lines.append(f"\n… {len(frame) - limit} weitere / more")
    return "\n".join(lines)
