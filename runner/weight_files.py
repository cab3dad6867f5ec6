"""What a weight file really is, from its first bytes (and a zip's directory), not from its name or size.

One judgement for the doctor's probe and the runner's loader: `sniff(path)` names the format, `judge(path,
file)` says whether it is what the family data expects there and, if not, what it is instead. Torch-free
and stdlib-only.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from runner.family import WeightFile, WeightRole, hf_download_command

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
LFS_POINTER_MAX_BYTES = 1024
# torch.save's legacy (pre-1.6, non-zip) format opens with a pickled magic number (protocol 2, LONG1 of 10 bytes)
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
JSON_PARSE_LIMIT = 1 << 20  # configs are parsed whole; larger JSON (a 9 MB tokenizer.json: ~1 s) only has its end read

KIND_TEXT = {
    "missing": "missing",
    "dangling": "a link to a blob that does not exist",
    "unfinished": "a link to a download that never finished",
    "folder": "a folder, not a file",
    "unreadable": "unreadable",
    "empty": "empty (0 bytes)",
    "lfs_pointer": "a git-lfs pointer file, not the weights (cloned without git-lfs)",
    "html": "an HTML page (an error or login page saved in place of the file)",
    "torch_zip": "a torch.save checkpoint (zip)",
    "torchscript": "a TorchScript archive (torch.jit.save)",
    "torch_legacy": "a torch.save checkpoint (legacy pickle format)",
    "pickle": "a plain Python pickle, not a torch checkpoint",
    "safetensors": "a safetensors file",
    "safetensors_damaged": "a truncated or damaged safetensors file",
    "zip": "a zip archive that is not a torch checkpoint",
    "zip_damaged": "a truncated or damaged zip archive",
    "json": "a JSON file",
    "json_damaged": "a truncated or damaged JSON file",
    "unknown": "not a format any loader reads",
}
LOADABLE = {"torch_zip", "torchscript", "torch_legacy", "safetensors", "json"}


@dataclass(frozen=True)
class Sniffed:
    kind: str  # a key of KIND_TEXT
    size: int | None
    detail: str = ""  # e.g. what a damaged archive lacks
    blob: Path | None = None  # for a link: what it points at

    @property
    def text(self) -> str:
        return KIND_TEXT[self.kind] + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Verdict:
    path: Path
    sniffed: Sniffed
    problem: str  # "" when the file is usable as `expected`
    expected: WeightFile

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def kind(self) -> str:
        return self.sniffed.kind


def _zip_kind(path: Path) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return "zip_damaged", f"no readable zip directory: {exc}"
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript", ""
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "torch_zip", ""
    return "zip", f"holds {', '.join(names[:3]) or 'nothing'}"


def _safetensors_kind(path: Path, head: bytes, size: int) -> tuple[str, str] | None:
    if len(head) < 9 or head[8:9] != b"{":
        return None
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len + 8 > size:
        return "safetensors_damaged", f"its header says {header_len} bytes, the file has {size}"
    try:
        with path.open("rb") as handle:
            handle.seek(8)
            header = json.loads(handle.read(header_len))
    except (OSError, ValueError) as exc:
        return "safetensors_damaged", f"header unreadable: {exc}"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    needed = 8 + header_len + max(ends, default=0)
    if needed > size:
        return "safetensors_damaged", f"its tensors need {needed} bytes, the file has {size}"
    return "safetensors", f"{len(ends)} tensors"


def _json_kind(path: Path, size: int) -> tuple[str, str]:
    if size > JSON_PARSE_LIMIT:  # a cut file ends mid-value, not with the closing bracket
        try:
            with path.open("rb") as handle:
                handle.seek(max(size - 64, 0))
                tail = handle.read().rstrip()
        except OSError as exc:
            return "json_damaged", exc.strerror or str(exc)
        return ("json", "") if tail.endswith((b"}", b"]")) else ("json_damaged", "it ends mid-way: truncated")
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return "json_damaged", str(exc).splitlines()[0]
    return "json", ""


def sniff(path: Path | str) -> Sniffed:
    path = Path(path)
    blob = Path(os.path.normpath(path.parent / os.readlink(path))) if path.is_symlink() else None
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if blob is None:
            return Sniffed("missing", None)
        unfinished = any(blob.parent.glob(blob.name + "*.incomplete")) if blob.parent.is_dir() else False
        return Sniffed("unfinished" if unfinished else "dangling", None, blob=blob)
    except OSError as exc:
        return Sniffed("unreadable", None, exc.strerror or str(exc), blob)
    if path.is_dir():
        return Sniffed("folder", None, blob=blob)
    if size == 0:
        return Sniffed("empty", 0, blob=blob)
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        return Sniffed("unreadable", size, exc.strerror or str(exc), blob)
    kind, detail = "unknown", ""
    text_head = head.lstrip().lower()
    if head.startswith(LFS_POINTER_PREFIX) and size <= LFS_POINTER_MAX_BYTES:
        kind = "lfs_pointer"
    elif text_head.startswith((b"<!doctype html", b"<html", b"<?xml")):
        kind = "html"
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind, detail = _zip_kind(path)
    elif head.startswith(TORCH_LEGACY_MAGIC):
        kind = "torch_legacy"
    elif head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        kind = "pickle"
    elif (found := _safetensors_kind(path, head, size)) is not None:
        kind, detail = found
    elif text_head.startswith((b"{", b"[")):
        kind, detail = _json_kind(path, size)
    return Sniffed(kind, size, detail, blob)


def _expected_text(expected: WeightFile) -> str:
    return " or ".join(KIND_TEXT[k] for k in expected.formats if k in KIND_TEXT) or "this file"


def judge(path: Path | str, expected: WeightFile) -> Verdict:
    """Is the file at `path` usable as `expected`, by its format (first bytes, a zip's directory, a safetensors
    header against the file's length, a JSON file parsed)? Not by its size: a cut file shows in its format,
    and a small network of the real format is what the tests run."""
    path = Path(path)
    found = sniff(path)
    problem = ""
    if found.kind in ("missing", "dangling", "unfinished", "folder", "unreadable", "empty", "lfs_pointer", "html") or \
            found.kind.endswith("_damaged"):
        problem = found.text
    elif "any" not in expected.formats and found.kind not in expected.formats:
        problem = f"{found.text}, where {_expected_text(expected)} belongs"
    return Verdict(path, found, problem, expected)


def remedy(role: WeightRole, verdict: Verdict | None = None, cache_dir: Path | str | None = None) -> str:
    """What to do about a role with no usable copy (`verdict`: the first broken file, None when none was found)."""
    there = verdict is not None and verdict.kind not in ("missing",)
    fetch = f"`{hf_download_command(role, cache_dir, force=there)}`"
    elsewhere = "or, if a good copy lies elsewhere, pass --models DIR (`drdoctor fix models.paths` records it)"
    if verdict is None or verdict.kind == "missing":
        return f"download it: {fetch}, {elsewhere}"
    kind = verdict.kind
    if kind == "lfs_pointer":
        return f"that repository was cloned without git-lfs: run `git lfs pull` in it, or download the files: {fetch}"
    if kind == "unfinished":
        return f"finish the download: {fetch}"
    if kind in LOADABLE or kind in ("zip", "pickle"):
        return (f"{verdict.path} is not {role.label}'s {verdict.expected.name}: point the setting at the right file, "
                f"or download it: {fetch}")
    return f"download it again: {fetch}, {elsewhere}"
