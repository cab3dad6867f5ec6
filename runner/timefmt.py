"""The one way a time is shown to people: seconds rounded to hundredths, trailing zeros dropped.

11.888616780045352 -> "11.89 s", 3.0 -> "3 s", 94.9 -> "94.9 s". Torch-free (the doctor and the TUI may use it).
"""

from __future__ import annotations


def format_seconds(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} s"


def format_span(start: float, end: float) -> str:
    """A stretch of time: 1.5-3 s."""
    return f"{format_seconds(start)[:-2]}-{format_seconds(end)}"
