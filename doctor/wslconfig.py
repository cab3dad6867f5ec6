"""The Windows user's `.wslconfig`: the one reader the memory probe (mem.wsl_limit) and the wsl.memory fix share.

Read in its own encoding (`runner.textfile`: Notepad writes UTF-16 with a BOM) and parsed line by line
(`doctor.ini`: a trailing `# comment` is not part of the value; the last assignment wins, as WSL reads it).
Sizes are WSL's: binary units, `16GB` = 16 GiB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from doctor.ini import IniDoc
from runner import textfile

SECTION = "wsl2"
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30,
          "T": 1 << 40, "TB": 1 << 40}


def parse_size(text: str | None) -> int | None:
    """'16GB', '512MB', '16G', '"8GB"' -> bytes; None when absent or not a size."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", text.strip().strip('"'), re.IGNORECASE)
    if not found:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


@dataclass
class WslConfigFile:
    path: Path
    doc: IniDoc  # empty when the file does not exist yet
    exists: bool

    def value(self, key: str) -> str | None:
        """The raw `[wsl2] key=` value WSL would use (comment and spaces removed), or None."""
        return self.doc.get(SECTION, key)

    def size(self, key: str) -> int | None:
        return parse_size(self.value(key))


def read(path: Path) -> WslConfigFile:
    """The file as WSL reads it; `textfile.Unreadable` (naming the byte) when it is not text."""
    found = textfile.read(path)
    return WslConfigFile(path=path, doc=IniDoc.parse(found.text if found else ""), exists=found is not None)
