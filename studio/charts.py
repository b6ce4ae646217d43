"""The loss charts (Stylize's and a training's): a colour for every series there can be, and the rows a chart
has been sent so far as the table gr.LinePlot takes."""

from __future__ import annotations

import pandas as pd

from nst_core.names import LAYER_CHOICES

MARKER_GREY = "#9ca3af"
# With a colour map Gradio's chart draws only the series it names, so it names every one there can be.
LAYER_PALETTE = ("#7c3aed", "#a78bfa", "#db2777", "#f9a8d4", "#0891b2", "#67e8f9", "#22d3ee", "#155e75",
                 "#65a30d", "#bef264", "#84cc16", "#365314", "#ca8a04", "#fde047", "#eab308", "#713f12")
TERM_COLOURS = {"total": "#111827", "content": "#2563eb", "style": "#ea580c", "tv": "#16a34a",
                **dict(zip(LAYER_CHOICES, LAYER_PALETTE)),
                **{f"scale {k} starts": MARKER_GREY for k in range(2, 8)}, "weights moved": "#dc2626"}


def loss_table(rows: list[dict]) -> pd.DataFrame:
    """Chart rows ({step, loss, term}) as the chart's value: every row so far (Gradio sends the browser only the
    rows it has not seen)."""
    return pd.DataFrame(rows, columns=["step", "loss", "term"])
