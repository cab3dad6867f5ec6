"""Files a request over HTTP may use: uploaded content (size-limited) or a file inside a folder the config
names (`[service] input_dirs`), never an arbitrary server path: `..`, absolute paths and symlinks that
lead out of the folder are refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path, PurePosixPath

from runner.atomic import write_bytes_atomic
from runner.errors import BadInput

UPLOAD_LIMIT_BYTES = 20 << 20
SUFFIXES = {"lyrics": ".lrc", "ref_audio": ".wav", "style_embedding": ".npy"}


def from_folders(relative: str, folders: list[Path]) -> Path:
    """The file `relative` names inside one of `folders` (the first that has it)."""
    if not folders:
        raise BadInput(f"{relative!r}: this server takes no file paths", "upload the file's content instead")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if not relative or pure.is_absolute() or Path(relative).is_absolute() or ".." in pure.parts:
        raise BadInput(f"{relative!r}: only a path inside the configured input folders is taken (no '..', "
                       "not absolute)", "name the file relative to one of [service] input_dirs")
    for folder in folders:
        root = Path(os.path.realpath(folder))
        candidate = Path(os.path.realpath(root / pure))
        if not candidate.is_relative_to(root):
            raise BadInput(f"{relative!r} leads out of its input folder (a symlink)",
                           "copy the file into the input folder")
        if candidate.is_file():
            return candidate
    raise BadInput(f"{relative!r} is not in the input folders", "check the name, or upload the content")


def save_upload(kind: str, data_b64: str, uploads: Path, limit: int = UPLOAD_LIMIT_BYTES) -> Path:
    """Uploaded content, stored by its SHA-256 (equal uploads are one file, and one cache key)."""
    if len(data_b64) > (limit * 4) // 3 + 8:
        raise BadInput(f"{kind}: the upload is larger than {limit} bytes", "send a smaller file")
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(f"{kind}: the upload is not valid base64 ({exc})", "send the file's bytes base64-encoded") \
            from None
    if len(data) > limit:
        raise BadInput(f"{kind}: the upload is larger than {limit} bytes", "send a smaller file")
    target = uploads / f"{hashlib.sha256(data).hexdigest()}{SUFFIXES.get(kind, '')}"
    if not target.exists():
        write_bytes_atomic(target, data)
    return target


def save_text(kind: str, text: str, uploads: Path, limit: int = UPLOAD_LIMIT_BYTES) -> Path:
    return save_upload(kind, base64.b64encode(text.encode("utf-8")).decode("ascii"), uploads, limit)
