"""Colours, status signs and the base chart layout shared by every page and slide.

Status colours are from the Okabe–Ito palette, chosen to stay apart for the common forms of
colour blindness; every coloured status also carries a sign and a word, so colour is never the
only cue.
"""
from __future__ import annotations

import plotly.graph_objects as go

from dashboards import i18n

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
GREY = "#BBBBBB"
LIGHT_GREY = "#E4E4E4"

# status -> (colour, sign). Met and missed share a sign across at-least and at-most targets.
STATUS_STYLE = {
    "achieved": (OKABE_ITO["green"], "✓"),
    "within": (OKABE_ITO["green"], "✓"),
    "on_track": (OKABE_ITO["sky_blue"], "↗"),
    "behind": (OKABE_ITO["orange"], "✗"),
    "exceeded": (OKABE_ITO["vermillion"], "✗"),
    None: (LIGHT_GREY, "–"),
}
STATUS_ORDER = ("achieved", "within", "on_track", "behind", "exceeded", None)

DELIVERY_STYLE = {  # reporting-rate cells: colour and sign
    "on_time": (OKABE_ITO["green"], "✓"),
    "late": (OKABE_ITO["orange"], "!"),
    "missing": (OKABE_ITO["vermillion"], "✗"),
    "open": (LIGHT_GREY, "…"),
    "extra": (OKABE_ITO["sky_blue"], "+"),
}

DISTRICT_COLOUR = OKABE_ITO["blue"]
COMPARISON_COLOUR = OKABE_ITO["purple"]
TARGET_COLOUR = OKABE_ITO["black"]
MASKED_COLOUR = GREY
# A sequence for categories (reason codes, districts in a line chart): Okabe–Ito without yellow
# (too light on white) first, then the same hues again with patterns where charts allow.
SEQUENCE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "black")]
PATTERNS = ["", "/", ".", "x", "-", "|", "+"]

# An empty template: the default one would add ~8 kB of theme to every figure on a page.
EMPTY_TEMPLATE = go.layout.Template()


def layout(lang: str, title: str | None = None, height: int = 420, **more) -> dict:
    decimal, thousands = i18n.SEPARATORS[lang]
    base = dict(
        template=EMPTY_TEMPLATE,
        separators=decimal + thousands,
        font=dict(family=FONT, size=14, color="#1b1b1b"),  # 14 px and up: read on a projector
        height=height,
        margin=dict(l=60, r=20, t=70 if title else 30, b=60),
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel=dict(font=dict(family=FONT)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
    )
    if title:
        base["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=16))
    base.update(more)
    return base


def axis(**more) -> dict:
    return dict(gridcolor=LIGHT_GREY, zerolinecolor=GREY, linecolor=GREY, automargin=True, **more)


def wrap(text: str, width: int = 22) -> str:
    """Long catalogue labels broken into lines for axis ticks (Plotly does not wrap by itself)."""
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return "<br>".join(lines)


def short_district(name: str) -> str:
    """`Landkreis Potsdam-Mittelmark` -> `Potsdam-Mittelmark`: the kind of district is the same for
    all and only takes room on an axis; the full name stays in the hover text and the tables."""
    for prefix in ("Landkreis ", "Kreis ", "Kreisfreie Stadt "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name
