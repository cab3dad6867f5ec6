"""A user's text file in its own encoding: the one reader for every file a person wrote (the doctor's probes,
checks and fixes today: `.wslconfig`, `requirements.txt`, `config.toml`; lyrics files can use it too). Torch-free
and stdlib-only, so the doctor and the runner both may import it.

UTF-8 (with or without a byte-order mark) and UTF-16/UTF-32 with a BOM (Windows Notepad saves
`.wslconfig` as UTF-16 with a BOM when asked for "Unicode"). Anything else is `Unreadable`, whose
message names the file, the offending byte, its offset, line and column, and what to do. A NUL byte in a file
without a BOM marks it as binary (or UTF-16 that lost its BOM), though UTF-8 allows it.
A BOM stays in the text as U+FEFF, so encoding the text back with `encoding` gives the same bytes.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

BOM = "\ufeff"
# Longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def remedy(path: Path) -> str:
    if path.name.lower() == ".wslconfig":  # a Windows file, edited with Windows' tools
        return "save it as UTF-8 (in Notepad: File > Save as, Encoding: UTF-8) and run again"
    return f"convert it to UTF-8 (if it is Windows-1252: `iconv -f cp1252 -t utf-8 {path.name}`) and run again"


class Unreadable(ValueError):
    """A file that exists but cannot be read as text; str() is the whole message for the user."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclass(frozen=True)
class Text:
    text: str
    encoding: str  # the codec that turns `text` back into the file's bytes

    def without_bom(self) -> str:
        return self.text.removeprefix(BOM)


def _where(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"offset {offset} (line {line}, column {column})"


def decode(raw: bytes, path: Path) -> Text:
    """`raw` as text in the encoding its BOM names, else UTF-8; `Unreadable` naming the bad byte."""
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    nul = raw.find(b"\0", 0, 1 << 16) if encoding == "utf-8" else -1
    if nul >= 0:  # valid UTF-8, but no editor writes it: a binary file, or UTF-16 that lost its BOM
        raise Unreadable(path, f"not a text file: byte 0x00 at {_where(raw, nul)}; restore it from a backup or "
                               "delete it, then run again")
    try:
        return Text(raw.decode(encoding), encoding)
    except UnicodeDecodeError as exc:
        bad = raw[exc.start:exc.end]
        shown = " ".join(f"0x{b:02x}" for b in bad[:4])
        kind = "UTF-8" if encoding == "utf-8" else f"{encoding.upper()} (its byte-order mark says so)"
        raise Unreadable(path, f"not {kind} text: byte {shown} at {_where(raw, exc.start)}; {remedy(path)}") from exc


def read(path: Path) -> Text | None:
    """The file's text, or None when there is no such file; `Unreadable` when it exists but cannot be read."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise Unreadable(path, f"cannot read it ({exc.strerror or exc})") from exc
    return decode(raw, path)
