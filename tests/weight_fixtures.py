"""Bytes of each weight-file format, written without torch: what `runner.weight_files.sniff` reads.

Small but real: a torch.save-style zip (`archive/data.pkl`), a TorchScript-style zip (`constants.pkl`,
`code/`), a safetensors file (length-prefixed JSON header, then the tensor bytes), a legacy torch pickle.
`sized(path, data, size)` pads a file to `size` bytes without using disk, keeping its format readable.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

from runner.weight_files import TORCH_LEGACY_MAGIC


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.writestr(name, b"\x80\x02}q\x00." if name.endswith(".pkl") else b"0")
    return buffer.getvalue()


def torch_zip() -> bytes:
    return _zip(["archive/data.pkl", "archive/data/0", "archive/version"])


def torchscript() -> bytes:
    return _zip(["archive/data.pkl", "archive/constants.pkl", "archive/code/__torch__/vae.py", "archive/version"])


def torch_legacy() -> bytes:
    return TORCH_LEGACY_MAGIC + b".\x80\x02M\xe9\x03."


def safetensors(tensor_bytes: int = 16) -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [tensor_bytes], "data_offsets": [0, tensor_bytes]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * tensor_bytes


def sized(path: Path, data: bytes, size: int) -> Path:
    """`data` padded with a hole to `size` bytes. A zip keeps its directory at the end (so it still reads):
    the hole goes between its entries and its directory, the directory's offset moved past it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = max(size - len(data), 0)
    if data.startswith(b"PK") and pad:
        end = data.rindex(b"PK\x05\x06")
        (directory_offset,) = struct.unpack("<I", data[end + 16:end + 20])
        eocd = data[end:end + 16] + struct.pack("<I", directory_offset + pad) + data[end + 20:]
        with path.open("wb") as handle:
            handle.write(data[:directory_offset])
            handle.seek(directory_offset + pad)
            handle.write(data[directory_offset:end] + eocd)
        return path
    with path.open("wb") as handle:
        handle.write(data)
        handle.truncate(len(data) + pad)
    return path


def hf_put(cache: Path, repo: str, filename: str, data: bytes, revision: str = "0123abcd", size: int = 0) -> Path:
    """Store `data` as a Hugging Face cache would: blobs/<sha256>, snapshots/<rev>/<file> -> blob, refs/main.
    With `size`, the blob is padded to that size (then its name is the sha256 of the unpadded bytes)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    sized(blob, data, size) if size else (blob.parent.mkdir(parents=True, exist_ok=True), blob.write_bytes(data))
    link = folder / "snapshots" / revision / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(Path("../../blobs") / blob.name)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    return link


CONTENT = {"json": lambda: b'{"model_type": "stand-in"}', "safetensors": safetensors, "torch_zip": torch_zip,
           "torch_legacy": torch_legacy, "torchscript": torchscript, "any": lambda: b"stand-in data"}


def family_weights(cache: Path, roles: tuple[str, ...] | None = None, revision: str = "a" * 40,
                   full_size: bool = False) -> dict[str, Path]:
    """Every file of the family's roles (all, or `roles`) in one cache, each of the format the family names;
    `full_size`: padded (sparsely) to the file's min_bytes, as the size estimates read them."""
    from runner.family import family

    links = {}
    for role in family().weights:
        if roles is not None and role.id not in roles:
            continue
        for f in role.files:
            data = CONTENT[f.formats[0]]()
            size = f.min_bytes if full_size and f.formats[0] not in ("json",) else 0
            links[f"{role.id}/{f.name}"] = hf_put(cache, role.repo, f.name, data, revision, size)
    return links


def style_models(cache: Path, revision: str = "0123abcd") -> dict[str, Path]:
    """MuQ-MuLan's three repositories, every file the family lists, in one cache (formats real, contents not)."""
    return family_weights(cache, ("muq", "muq_audio", "xlmr"), revision)
