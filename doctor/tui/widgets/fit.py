"""Text cut to a width with an ellipsis, so a cut is visible: the end of a sentence, the start of a path."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "…"


def cut_end(text: str, width: int) -> str:
    """'what was seen, in a long sentence' -> 'what was seen, in a…'"""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)) + ELLIPSIS if width > 0 else ""


def cut_start(text: str, width: int) -> str:
    """A path keeps its end, which names the file: '/home/me/songs/runs/x/song.wav' -> '…/runs/x/song.wav'."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    tail = text
    while tail and cell_len(tail) > width - 1:
        tail = tail[1:]
    return ELLIPSIS + tail
