"""Helpers the fix tests import (conftest holds the fixtures)."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

# A stand-in for huggingface_hub.hf_hub_download with the real signature and cache layout: it "downloads"
# a small torch.save-style zip (the real one needs the network).
HUB_STUB = '''
import hashlib, os, zipfile
from pathlib import Path

def hf_hub_download(repo_id, filename, *, cache_dir=None, local_dir=None, force_download=False, revision="main"):
    def write(target):
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("archive/data.pkl", b"stand-in")
    if local_dir:
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        return str(target)
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    sha = hashlib.sha256(f"{repo_id}/{filename}".encode()).hexdigest()
    for partial in (repo / "blobs").glob("*.incomplete"):
        partial.unlink()
    blob = repo / "blobs" / sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    write(blob)
    link = repo / "snapshots" / ("f" * 40) / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("f" * 40)
    print("downloaded", repo_id, filename)
    return str(link)
'''

WHEELS = [
    ("torch", "2.13.0+cpu", {"torch/__init__.py": "from torch.version import __version__\n",
                              "torch/version.py": "__version__ = '2.13.0+cpu'\ndebug = False\ncuda = None\nhip = None\n"}),
    ("torch", "2.13.0+cu126", {"torch/__init__.py": "from torch.version import __version__\n",
                                "torch/version.py": "__version__ = '2.13.0+cu126'\ndebug = False\ncuda: str = '12.6'\nhip = None\n"}),
    ("torch", "2.7.1+cu118", {"torch/__init__.py": "from torch.version import __version__\n",
                               "torch/version.py": "__version__ = '2.7.1+cu118'\ndebug = False\ncuda = '11.8'\nhip = None\n"}),
    ("torch", "2.11.0+cu126", {"torch/__init__.py": "from torch.version import __version__\n",
                                "torch/version.py": "__version__ = '2.11.0+cu126'\ndebug = False\ncuda = '12.6'\nhip = None\n"}),
    ("torchaudio", "2.6.0", {"torchaudio/__init__.py": "__version__ = '2.6.0'\n"}),
    ("torchaudio", "2.11.0+cu126", {"torchaudio/__init__.py": "__version__ = '2.11.0+cu126'\n"}),
    # muq (MuQ-MuLan's package) imports torchaudio when loaded; its dependencies are left out here
    ("muq", "0.1.0", {"muq/__init__.py": "import torchaudio\n"}),
    ("torchaudio", "2.7.1+cu118", {"torchaudio/__init__.py": "__version__ = '2.7.1+cu118'\n"}),
    ("transformers", "4.57.0", {"transformers/__init__.py": "__version__ = '4.57.0'\n"}),
    ("transformers", "4.53.3", {"transformers/__init__.py": "__version__ = '4.53.3'\n"}),
    ("huggingface_hub", "0.34.4", {"huggingface_hub/__init__.py": HUB_STUB}),
]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel `name-version-py3-none-any.whl` holding `files`."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    contents[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: drdoctor-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(path, data) for path, data in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def yes(question: str) -> bool:
    return True


def no(question: str) -> bool:
    return False


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (links as their target) -> its bytes: to prove nothing changed."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = b"->" + os.readlink(path).encode()
        elif path.is_file():
            found[str(path)] = path.read_bytes() if path.stat().st_size < (1 << 20) else str(path.stat().st_size).encode()
    return found
