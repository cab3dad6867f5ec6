"""Which torch build fits a driver: the one reader of `data/torch_cuda.json`.

Standard library only: install.sh runs it with the system Python before any venv exists
(`python3 -m doctor.wheels choose --driver-cuda 12.4`), and the checks and fixes import it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).parent / "data" / "torch_cuda.json"

Version = tuple[int, ...]


@lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))


def version_tuple(text: str) -> Version:
    """'2.13.0+cpu' -> (2, 13, 0); '550.54.14' -> (550, 54, 14); non-numbers end the tuple."""
    parts = []
    for piece in text.split("+", 1)[0].split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def variant_cuda(variant: str) -> Version | None:
    """'cu124' -> (12, 4); 'cu118' -> (11, 8); 'cpu' or 'rocm6.2' -> None."""
    match = re.fullmatch(r"cu(\d+)(\d)", variant)
    return (int(match.group(1)), int(match.group(2))) if match else None


def index_url(variant: str) -> str:
    return table()["index_url"].format(variant=variant)


@dataclass(frozen=True)
class Choice:
    torch_version: str
    variant: str  # "cpu" or "cuXYZ"

    @property
    def index_url(self) -> str:
        return index_url(self.variant)

    def line(self) -> str:
        return f"{self.torch_version} {self.variant} {self.index_url}"


@dataclass(frozen=True)
class ArchSet:
    sass: tuple[Version, ...]
    ptx: Version | None

    def runs_on(self, capability: Version) -> bool:
        """SASS for X.Y runs on X.Z with Z >= Y; PTX is compiled for any newer capability."""
        if any(arch[0] == capability[0] and arch[1] <= capability[1] for arch in self.sass):
            return True
        return self.ptx is not None and self.ptx <= capability

    def describe(self) -> str:
        text = " ".join(f"sm_{a[0]}{a[1]}" for a in self.sass)
        return text + (f" +PTX {self.ptx[0]}.{self.ptx[1]}" if self.ptx else "")


def _release(torch_version: str) -> dict | None:
    """The table row for a torch release, matched on major.minor."""
    wanted = version_tuple(torch_version)[:2]
    for row in table()["releases"]:
        if version_tuple(row["torch"])[:2] == wanted:
            return row
    return None


def arch_set(torch_version: str, variant: str) -> ArchSet | None:
    row = _release(torch_version)
    if row is None or variant not in row["variants"]:
        return None
    data = table()["arch_sets"][row["variants"][variant]]
    return ArchSet(
        sass=tuple(version_tuple(a) for a in data["sass"]),
        ptx=version_tuple(data["ptx"]) if data["ptx"] else None,
    )


def pypi_variant(torch_version: str) -> str | None:
    """The variant PyPI's own (untagged) Linux x86_64 wheel of a release is ("cu126" for 2.7.1); None: unknown."""
    row = _release(torch_version)
    return row.get("pypi") if row else None


@dataclass(frozen=True)
class Fit:
    """How one torch build (variant, release) runs on a machine's driver and GPU."""

    variant: str
    torch_version: str
    driver: str  # "full" | "mvc" | "no" (driver_runs), or "none": a CPU build or no driver
    arch: bool | None  # the build has code for the GPU; None: no GPU capability or no arch row known
    arch_set: ArchSet | None = None

    @property
    def uses_gpu(self) -> bool:
        return self.driver in ("full", "mvc") and self.arch is not False

    def describe(self, capability: Version | None = None) -> str:
        cuda = variant_cuda(self.variant)
        if cuda is None:
            return "a CPU build"
        text = f"CUDA {cuda[0]}.{cuda[1]}"
        if self.driver == "full":
            text = f"the driver runs {text}"
        elif self.driver == "mvc":
            text = (f"the driver runs {text} through minor-version compatibility (eager code works; code compiled at "
                    "run time may not)")
        elif self.driver == "no":
            requirement = driver_requirement(cuda)
            floor = f" (driver {driver_text(requirement[1])} or newer)" if requirement else ""
            text = f"{text} needs a newer driver{floor}"
        else:
            text = f"{text} needs an NVIDIA driver"
        if self.arch is False and capability and self.arch_set:
            text += f"; it has no code for sm_{capability[0]}{capability[1]} (it has {self.arch_set.describe()})"
        return text


def fit(variant: str, torch_version: str, driver_cuda: Version | None, driver_version: str | None = None,
        capability: Version | None = None) -> Fit:
    """Whether the driver starts that build's CUDA (driver_runs) and the build has code for the GPU (arch_set)."""
    cuda = variant_cuda(variant)
    driver = "none" if cuda is None or driver_cuda is None else driver_runs(cuda, driver_cuda, driver_version)
    archs = arch_set(torch_version, variant) if cuda else None
    arch = None if capability is None or archs is None else archs.runs_on(capability)
    return Fit(variant, torch_version, driver, arch, archs)


def best_gpu_fit(builds: list[tuple[str, str]], driver_cuda: Version | None, driver_version: str | None = None,
                 capability: Version | None = None) -> Fit | None:
    """Of (variant, torch release) builds, the one that uses this GPU: fully supported by the driver before
    minor-version compatibility, then the newest CUDA, then the newest release. None: none of them does."""
    usable = [f for f in (fit(v, t, driver_cuda, driver_version, capability) for v, t in builds) if f.uses_gpu]
    if not usable:
        return None
    return max(usable, key=lambda f: (f.driver == "full", variant_cuda(f.variant), version_tuple(f.torch_version)))


def driver_requirement(cuda: Version) -> tuple[Version, Version] | None:
    """(toolkit driver, minor-version-compatibility floor) for a CUDA version, if in the table."""
    entry = table()["cuda"].get(f"{cuda[0]}.{cuda[1]}")
    if entry is None:
        return None
    return version_tuple(entry["toolkit_driver"]), version_tuple(entry["mvc_floor"])


def driver_text(driver: Version) -> str:
    """(560, 28, 3) -> '560.28.03': NVIDIA's Linux driver numbers write the parts after the first with two digits."""
    return ".".join([str(driver[0]), *(f"{n:02d}" for n in driver[1:])])


def driver_runs(cuda: Version, driver_cuda: Version, driver_version: str | None = None) -> str:
    """How a driver that supports CUDA up to `driver_cuda` runs a build made for CUDA `cuda`.

    "full": that CUDA or an older one (or an older major). "mvc": the same major, a newer minor, through
    NVIDIA's minor-version compatibility: eager code works, code compiled at run time may not. "no": a
    newer major, or a Linux `driver_version` below that major's compatibility floor (pass None on WSL2,
    whose numbers are the Windows driver's): CUDA does not start.
    """
    cuda = cuda[:2]
    if cuda[0] < driver_cuda[0] or cuda <= driver_cuda:
        return "full"
    if cuda[0] > driver_cuda[0]:
        return "no"
    requirement = driver_requirement(cuda)
    if requirement and driver_version and version_tuple(driver_version) < requirement[1]:
        return "no"
    return "mvc"


def cuda_for_driver(driver_version: str) -> Version | None:
    """The newest CUDA in the table whose toolkit driver is <= this Linux driver version."""
    driver = version_tuple(driver_version)
    fitting = [
        version_tuple(cuda)
        for cuda, entry in table()["cuda"].items()
        if version_tuple(entry["toolkit_driver"]) <= driver
    ]
    return max(fitting) if fitting else None


def expected_torchaudio(torch_version: str) -> str | None:
    """The torchaudio release paired with a torch release; None when none exists (2.12+)."""
    rules = table()["torchaudio"]
    base = ".".join(str(n) for n in version_tuple(torch_version))
    if version_tuple(torch_version)[:2] > version_tuple(rules["last_torch"]):
        return None
    return rules["exceptions"].get(base, base)


def _newest_release(needs_torchaudio: bool) -> str:
    """The newest release the chooser may pick on its own: the recommended one, or with
    `needs_torchaudio` the newest that still has a torchaudio (2.11)."""
    recommended = version_tuple(table()["recommended_torch"])
    releases = [row["torch"] for row in table()["releases"] if version_tuple(row["torch"]) <= recommended]
    return max((r for r in releases if not needs_torchaudio or expected_torchaudio(r)), key=version_tuple)


def choose_variant(
    driver_cuda: Version | None,
    torch_version: str | None = None,
    compute_capability: Version | None = None,
    variant: str | None = None,
    needs_torchaudio: bool = False,
) -> Choice:
    """The torch build to install.

    No driver -> the CPU build of the recommended release. A driver -> the newest CUDA variant
    whose CUDA the driver fully supports (no minor-version-compatibility gamble), that has code for
    the GPU's compute capability, in the newest release that ships it. `torch_version` limits the
    choice to that release; `variant` forces the variant (its newest release, capped by
    `torch_version` or the recommended release when it still ships it). `needs_torchaudio` (the
    environment holds muq, which imports torchaudio) caps the release at the last one with a
    torchaudio (2.11) unless `torch_version` names one.
    """
    newest = _newest_release(needs_torchaudio)
    if variant == "cpu" or (variant is None and driver_cuda is None):
        return Choice(torch_version or newest, "cpu")
    candidates = _candidates(driver_cuda, torch_version, compute_capability, variant, newest, same_major=False)
    if not candidates and variant is None:
        # Minor-version compatibility: an older driver of the same CUDA major still runs eager code.
        candidates = _candidates(driver_cuda, torch_version, compute_capability, variant, newest, same_major=True)
    if not candidates:
        if variant is not None:
            raise ValueError(
                f"no torch release in {TABLE_PATH.name} ships {variant!r}"
                + (f" for torch {torch_version}" if torch_version else "")
                + (f" up to torch {newest}" if needs_torchaudio and not torch_version else "")
            )
        return Choice(torch_version or newest, "cpu")
    _, _, release, name = max(candidates)
    return Choice(release, name)


def _candidates(
    driver_cuda: Version | None,
    torch_version: str | None,
    compute_capability: Version | None,
    variant: str | None,
    newest: str,
    same_major: bool,
) -> list[tuple]:
    candidates = []
    for row in table()["releases"]:
        release = row["torch"]
        if torch_version and version_tuple(release)[:2] != version_tuple(torch_version)[:2]:
            continue
        if not torch_version and version_tuple(release) > version_tuple(newest):
            continue
        for name in row["variants"]:
            cuda = variant_cuda(name)
            if variant is not None:
                if name != variant:
                    continue
            else:
                if name in row.get("experimental", ()) or cuda is None:
                    continue
                if cuda[0] != driver_cuda[0] if same_major else cuda > driver_cuda:
                    continue
                arch = arch_set(release, name)
                if compute_capability and arch and not arch.runs_on(compute_capability):
                    continue
            candidates.append((cuda, version_tuple(release), torch_version or release, name))
    return candidates


def _parse_cuda_arg(text: str) -> Version | None:
    if text.lower() in ("", "none", "cpu"):
        return None
    cuda = version_tuple(text)
    if len(cuda) < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CUDA version like 12.4 (or 'none')")
    return cuda[:2]


def detect_driver() -> tuple[Version | None, Version | None]:
    """(highest CUDA the driver supports, first GPU's compute capability) from nvidia-smi."""
    from doctor.probes._run import run

    header = run(["nvidia-smi"], timeout=10)
    if header is None or header.returncode != 0:
        return None, None
    found = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", header.stdout)
    cuda = (int(found.group(1)), int(found.group(2))) if found else None
    caps = run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"], timeout=10)
    capability = None
    if caps is not None and caps.returncode == 0 and caps.stdout.strip():
        capability = version_tuple(caps.stdout.split()[0])[:2] or None
    return cuda, capability


def installed_torch() -> tuple[str, str] | None:
    """(version, variant) of the torch this interpreter would import, read from torch/version.py."""
    from importlib.util import find_spec

    from doctor.probes.python_env import torch_build

    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    build = torch_build(Path(next(iter(spec.submodule_search_locations))))
    return (build.version.split("+", 1)[0], build.variant) if build else None


def index_reachable(url: str, timeout: float) -> bool:
    """Does the simple index at `url` list torch? (download.pytorch.org is unreachable on some networks.)"""
    from urllib.error import URLError
    from urllib.request import urlopen

    try:
        with urlopen(url.rstrip("/") + "/torch/", timeout=timeout) as response:
            return response.status == 200
    except (URLError, OSError, ValueError):
        return False


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m doctor.wheels", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    choose = sub.add_parser("choose", help="print 'TORCH_VERSION VARIANT INDEX_URL' for this machine")
    choose.add_argument("--driver-cuda", default="detect", help="highest CUDA the driver supports (12.4), or 'none'; default: ask nvidia-smi")
    choose.add_argument("--compute-capability", type=_parse_cuda_arg, help="GPU compute capability (8.6)")
    choose.add_argument("--torch-version", help="torch release to install (default: the table's recommended one)")
    choose.add_argument("--variant", help="force a variant: cpu, cu118, cu121, ...")
    choose.add_argument("--with-torchaudio", action="store_true",
                        help="the environment needs torchaudio (muq imports it): no torch newer than the last torchaudio (2.11)")
    reachable = sub.add_parser("reachable", help="exit 0 when the package index at URL answers within the timeout")
    reachable.add_argument("url")
    reachable.add_argument("--timeout", type=float, default=5.0)
    matches = sub.add_parser("installed-matches", help="exit 0 when this interpreter's torch is VERSION+VARIANT")
    matches.add_argument("version")
    matches.add_argument("variant")
    args = parser.parse_args(argv)

    if args.command == "reachable":
        return 0 if index_reachable(args.url, args.timeout) else 1
    if args.command == "installed-matches":
        found = installed_torch()
        return 0 if found == (args.version, args.variant) else 1

    capability = args.compute_capability
    if args.driver_cuda == "detect":
        driver_cuda, detected_capability = detect_driver() if args.variant is None else (None, None)
        capability = capability or detected_capability
    else:
        try:
            driver_cuda = _parse_cuda_arg(args.driver_cuda)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--driver-cuda: {exc}")
    if args.variant and args.variant != "cpu" and variant_cuda(args.variant) is None:
        parser.error(f"--variant {args.variant!r}: expected cpu or cuXYZ (cu118, cu126, cu130, ...)")
    try:
        choice = choose_variant(driver_cuda, args.torch_version, capability, args.variant, args.with_torchaudio)
    except ValueError as exc:
        parser.error(str(exc))
    print(choice.line())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
