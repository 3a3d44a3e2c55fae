"""The indicator engine: the catalogue of indicators as data, compiled to DuckDB SQL.

    indicators = load_indicators(catalogue)            # validates indicators.yaml
    frame = compute_indicators(con, catalogue, indicators)  # writes table indicator_values
"""
from pipeline.indicators.engine import COLUMNS, TABLE, compute_indicators, read_indicator_values
from pipeline.indicators.loader import cached_indicators, indicators_path, load_indicators
from pipeline.indicators.model import (ALL, ALL_COMPARISON, TOTAL, Definition, Indicator, IndicatorCatalogue,
                                       KeySource, Override, Parameter, Reference)

__all__ = ["ALL", "ALL_COMPARISON", "COLUMNS", "TABLE", "TOTAL", "Definition", "Indicator", "IndicatorCatalogue",
           "KeySource", "Override", "Parameter", "Reference", "cached_indicators", "compute_indicators",
           "indicators_path", "load_indicators", "read_indicator_values"]
