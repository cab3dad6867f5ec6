"""A line-preserving INI reader and editor (`.wslconfig`): read a key as WSL does; change one, leave every other byte alone.

configparser rewrites the whole file and drops comments; this keeps each line (its comments, blank
lines, spacing, order, line endings and a byte-order mark) and only replaces the value part of the
line it sets, or inserts one new line (and a section header when the section is missing).
Sections and keys match case-insensitively, as WSL reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.textfile import BOM

_SECTION = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"^(?P<lead>\s*)(?P<key>[^=#;\[\s][^=]*?)(?P<eq>\s*=\s*)(?P<value>[^\r\n]*?)(?P<trail>\s*(?:[#;].*)?)(?P<nl>\r\n|\n|\r)?$")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept (only \\r\\n, \\n, \\r end a line; str.splitlines knows more)."""
    return _LINE.findall(text)


def _strip_bom(line: str, first: bool) -> str:
    return line[1:] if first and line.startswith(BOM) else line


@dataclass
class IniDoc:
    lines: list[str]

    @classmethod
    def parse(cls, text: str) -> "IniDoc":
        return cls(split_lines(text))

    def text(self) -> str:
        return "".join(self.lines)

    @property
    def newline(self) -> str:
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith("\n"):
                return "\n"
        return "\n"

    def _sections(self) -> list[tuple[str | None, int, int]]:
        """(lower-cased name or None before the first header, header index or -1, end index)."""
        spans: list[tuple[str | None, int, int]] = []
        name, start = None, -1
        for index, line in enumerate(self.lines):
            match = _SECTION.match(_strip_bom(line, index == 0))
            if match:
                spans.append((name, start, index))
                name, start = match.group(1).lower(), index
        spans.append((name, start, len(self.lines)))
        return spans

    def _key_lines(self, section: str, key: str) -> list[tuple[int, re.Match]]:
        found = []
        for name, start, end in self._sections():
            if name != section.lower():
                continue
            for index in range(start + 1, end):
                match = _KEY.match(_strip_bom(self.lines[index], index == 0))
                if match and match.group("key").strip().lower() == key.lower():
                    found.append((index, match))
        return found

    def get(self, section: str, key: str) -> str | None:
        """The value the last assignment in the section gives (as WSL reads it), or None."""
        found = self._key_lines(section, key)
        return found[-1][1].group("value").strip() if found else None

    def set(self, section: str, key: str, value: str) -> None:
        """Set every assignment of `key` in `section` to `value`; add the key (and section) if absent."""
        found = self._key_lines(section, key)
        for index, match in found:
            prefix = BOM if index == 0 and self.lines[0].startswith(BOM) else ""
            self.lines[index] = (
                prefix + match.group("lead") + match.group("key") + match.group("eq") + value
                + match.group("trail") + (match.group("nl") or "")
            )
        if found:
            return
        nl = self.newline
        spans = [span for span in self._sections() if span[0] == section.lower()]
        if spans:
            _, start, end = spans[-1]
            # After the section's last key line, before trailing blank lines and comments.
            insert_at = start + 1
            for index in range(start + 1, end):
                if _KEY.match(self.lines[index]):
                    insert_at = index + 1
            if insert_at > 0 and not self.lines[insert_at - 1].endswith(("\n", "\r")):
                self.lines[insert_at - 1] += nl
            self.lines.insert(insert_at, f"{key}={value}{nl}")
            return
        if self.lines and not self.lines[-1].endswith(("\n", "\r")):
            self.lines[-1] += nl
        if self.lines and self.lines[-1].strip(BOM).strip():
            self.lines.append(nl)
        self.lines += [f"[{section}]{nl}", f"{key}={value}{nl}"]
