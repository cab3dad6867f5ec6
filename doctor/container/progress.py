"""Per-layer progress of a pull, push or build stream (the engine's JSON messages), shown on a terminal
or printed as JSON lines (`--json`)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from doctor.units import gib


@dataclass
class Layer:
    id: str
    status: str = ""
    current: int | None = None
    total: int | None = None

    @property
    def percent(self) -> float | None:
        if self.current is None or not self.total:
            return None
        return round(min(100.0, 100.0 * self.current / self.total), 1)

    @property
    def finished(self) -> bool:
        return self.status in ("Pull complete", "Already exists", "Pushed", "Layer already exists", "Mounted from")


class StreamError(Exception):
    """An `error` message inside the engine's stream (a failed pull step, a failed build step)."""


@dataclass
class Tracker:
    """Folds the engine's messages into per-layer state; `feed` returns what changed."""

    def __post_init__(self) -> None:
        self.layers: dict[str, Layer] = {}
        self.image_id: str | None = None

    def feed(self, msg: dict[str, Any]) -> tuple[str, Any] | None:
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(str(msg.get("error") or detail.get("message") or msg))
        aux = msg.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = aux["ID"]
        if "stream" in msg:
            text = str(msg["stream"]).rstrip("\n")
            return ("log", text) if text.strip() else None
        status, layer_id = msg.get("status"), msg.get("id")
        if status and layer_id and _looks_like_layer(layer_id):
            layer = self.layers.setdefault(layer_id, Layer(layer_id))
            layer.status = status
            detail = msg.get("progressDetail") or {}
            if detail.get("total"):
                layer.current, layer.total = int(detail.get("current") or 0), int(detail["total"])
            elif layer.finished:
                if layer.total:
                    layer.current = layer.total
            return ("layer", layer)
        if status:
            return ("log", f"{status}" + (f" {layer_id}" if layer_id else ""))
        return None


def _looks_like_layer(layer_id: str) -> bool:
    return len(layer_id) == 12 and all(c in "0123456789abcdef" for c in layer_id)


def human(n: int | None) -> str:
    return "?" if n is None else gib(n)


class JsonProgress:
    """One JSON object per line: {"v":1,"type":"layer","op","image","layer","status","current","total","percent"}."""

    def __init__(self, op: str, image: str, out: TextIO | None = None):
        self.op, self.image, self.out = op, image, out or sys.stdout

    def emit(self, type_: str, **fields: Any) -> None:
        event = {"v": 1, "type": type_, "op": self.op, "image": self.image, "t": time.time(), **fields}
        self.out.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.out.flush()

    def layer(self, layer: Layer) -> None:
        self.emit("layer", layer=layer.id, status=layer.status, current=layer.current, total=layer.total,
                  percent=layer.percent)

    def log(self, text: str) -> None:
        self.emit("log", text=text)

    def done(self, image_id: str | None, size: int | None) -> None:
        self.emit("done", id=image_id, size=size)

    def failed(self, message: str, remedy: str) -> None:
        self.emit("error", message=message, remedy=remedy)


class TerminalProgress:
    """A line per layer: redrawn in place on a terminal, printed on each status change otherwise."""

    def __init__(self, op: str, image: str, out: TextIO | None = None):
        self.op, self.image, self.out = op, image, out or sys.stdout
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.order: list[str] = []
        self.drawn = 0
        self.last: dict[str, tuple[str, int]] = {}
        self.out.write(f"{op} {image}\n")

    def _line(self, layer: Layer) -> str:
        if layer.percent is not None and not layer.finished:
            return f"  {layer.id}  {layer.status:<18} {layer.percent:5.1f}%  {human(layer.current)}/{human(layer.total)}"
        size = f"  {human(layer.total)}" if layer.total else ""
        return f"  {layer.id}  {layer.status}{size}"

    def layer(self, layer: Layer, layers: dict[str, Layer] | None = None) -> None:
        if layer.id not in self.order:
            self.order.append(layer.id)
        if self.tty and layers is not None:
            if self.drawn:
                self.out.write(f"\x1b[{self.drawn}F")
            for layer_id in self.order:
                self.out.write("\x1b[2K" + self._line(layers[layer_id]) + "\n")
            self.drawn = len(self.order)
        else:
            bucket = int((layer.percent or 0) // 25)
            key = (layer.status, bucket)
            if self.last.get(layer.id) != key:
                self.last[layer.id] = key
                self.out.write(self._line(layer) + "\n")
        self.out.flush()

    def log(self, text: str) -> None:
        self.drawn = 0
        self.out.write(text + "\n")
        self.out.flush()

    def done(self, image_id: str | None, size: int | None) -> None:
        self.out.write(f"done: {self.image} ({(image_id or '?')[:19]}, {human(size)})\n")
        self.out.flush()

    def failed(self, message: str, remedy: str) -> None:
        sys.stderr.write(f"drdoctor: {message}\n  fix: {remedy}\n")
        sys.stderr.flush()


def follow(stream, tracker: Tracker, view) -> None:
    """Feed every engine message to the tracker and the view; raises StreamError on an error message."""
    for msg in stream:
        if not isinstance(msg, dict):
            continue
        change = tracker.feed(msg)
        if change is None:
            continue
        kind, value = change
        if kind == "layer":
            if isinstance(view, TerminalProgress):
                view.layer(value, tracker.layers)
            else:
                view.layer(value)
        else:
            view.log(value)
