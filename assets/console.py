"""The console log of `teilhabe run`: Dagster's lines, a failed step in one line, no stack trace.

Dagster's own console logger prints a failed step's whole stack trace to stderr. For an
operator the run ends with one sentence (assets/cli.py, pipeline/faults.py) and the log shows,
per failed step, what it failed with; the full trace stays in the run's event log (`teilhabe ui`).
"""
from __future__ import annotations

import logging
import sys

import dagster as dg

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def innermost(error):
    """The error a step failed with, beneath Dagster's wrappers (`cause`, then `context`)."""
    while error is not None and (error.cause or error.context) is not None:
        error = error.cause or error.context
    return error


def errors(error):
    """The error and everything it was raised from, outermost first."""
    while error is not None:
        yield error
        error = error.cause or error.context


def first_line(error) -> str:
    """An error's first line as Python prints it (`module.Class: message`)."""
    lines = (error.message or "").strip().splitlines()
    return lines[0] if lines else error.cls_name or "?"


class OneLineErrors(logging.Formatter):
    """Cut the error text Dagster appends to an event's message (after a blank line) down to the
    innermost error's first line."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, blank, _ = text.partition("\n\n")
        if not blank:
            return text
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        error = innermost(getattr(getattr(event, "event_specific_data", None), "error", None))
        if error is None:
            return head
        return f"{head} ({first_line(error)}; Details: teilhabe ui)"


@dg.logger(config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO"),
                          "name": dg.Field(str, is_required=False, default_value="dagster")},
           description="Dagster's console lines to stderr; a failed step in one line, without its stack trace.")
def one_line_console(init_context) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger(config["name"], level=config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineErrors(FORMAT))
    logger.addHandler(handler)
    return logger
