"""`drdoctor container run generate` arguments -> the container's mounts and the runner's arguments.

The options are those of `drdoctor generate` / `python -m runner`. Host paths become container paths:
  model folder  -> /models (read-only)      output folder -> /out (read-write; run folders in /out/runs)
  --lyrics FILE -> /in/lyrics/NAME (ro)     --ref-audio FILE -> /in/ref/NAME (ro)
  --edit / --continue SONG -> /in/song/NAME (ro)
  --style-embedding FILE -> /in/style/NAME (ro)   --style-from RUN_DIR -> /in/style-from (ro)
  --model-file ROLE=FILE -> /in/model-files/ROLE/NAME (ro)
  --bundle DIR  -> /in/bundle (ro)          --diffrhythm DIR -> /in/diffrhythm (ro; default: the image's)
  --out NAME    -> /out/NAME (relative to the output folder; an absolute path must lie inside it)
  --resume DIR  -> /out/... (a run folder inside the output folder)
On a remote engine (ssh://, tcp://) the folders are the engine machine's; the lyrics file and the
reference clip (and a song to edit or continue, a style embedding) are copied into the container (/tmp/drdoctor/in/...) since that machine lacks them.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runner.events import ExitCode
from runner.request import add_request_arguments

IMAGE_CHECKOUT = "/opt/DiffRhythm"
MODELS = "/models"
OUT = "/out"
UPLOADS = "/tmp/drdoctor"  # where a remote engine gets the lyrics / reference clip (copied, not mounted)


class RequestError(Exception):
    def __init__(self, message: str, remedy: str, code: int = int(ExitCode.BAD_INPUT)):
        super().__init__(message)
        self.message, self.remedy, self.code = message, remedy, code


# what the runner's path options mean when the runner is in the container
CONTAINER_HELP = {
    "--diffrhythm": "a checkout to use instead of the image's own (mounted read-only)",
    "--models": "host folder with the model files (mounted at /models, ro)",
    "--model-file": "one model file outside the model folder, ROLE=PATH (mounted read-only)",
    "--out": "file name in the output folder (default song.wav)",
    "--run-dir": "where run folders go, inside the output folder (default runs)",
    "--resume": "continue a run folder (inside the output folder)",
    "--device": "auto | cpu | cuda | cuda:INDEX (inside the container)",
    "--fault": argparse.SUPPRESS,  # the self-test's switch: accepted, not advertised
}


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    """The runner's own options (runner/request.py), with the container's meaning of its paths."""
    add_request_arguments(p, CONTAINER_HELP)


@dataclass
class Mount:
    source: str  # host path
    target: str  # container path
    read_only: bool


@dataclass
class ContainerRequest:
    args: list[str]  # the runner's arguments inside the container
    mounts: list[Mount] = field(default_factory=list)
    output_dir: Path | None = None
    # small input files copied into the container before it starts (remote engines): (host, container)
    uploads: list[tuple[str, str]] = field(default_factory=list)

    def upload_archive(self) -> bytes:
        """The uploads as one tar to extract at "/" (the image's /tmp exists and is world-writable)."""
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for host, target in self.uploads:
                data = Path(host).read_bytes()
                info = tarfile.TarInfo(target.lstrip("/"))
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def host_text(self, text: str) -> str:
        """Container paths in `text` made the host's: `/out/runs/x` -> `OUTPUT/runs/x` (the longest mount first)."""
        for mount in sorted(self.mounts, key=lambda m: len(m.target), reverse=True):
            text = re.sub(rf"(?<![\w/]){re.escape(mount.target)}(?=/|\b|$)", lambda _, m=mount: m.source, text)
        return text

    def docker_mounts(self):
        from docker.types import Mount as SdkMount

        return [SdkMount(m.target, m.source, type="bind", read_only=m.read_only) for m in self.mounts]


def _inside(path: Path, folder: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.resolve().relative_to(folder.resolve()).as_posix())
    except ValueError:
        return None


def translate(ns: argparse.Namespace, models: str | None, output: str, check_local: bool = True) -> ContainerRequest:
    """Raises RequestError (exit 2 for a bad path, 3 for a missing model folder)."""
    out_dir = Path(output).expanduser().absolute()
    req = ContainerRequest(args=[], output_dir=out_dir)
    args = req.args

    def host_file(value: str, what: str, target_dir: str, is_dir: bool = False, upload: bool = False) -> str:
        """A read-only bind mount; on a remote engine an `upload` file (lyrics, clip) is copied in instead,
        since the engine's machine does not have it."""
        path = Path(value).expanduser().absolute()
        local = check_local or upload
        if local and not (path.is_dir() if is_dir else path.is_file()):
            raise RequestError(f"{what} {value} does not exist", f"pass an existing {'folder' if is_dir else 'file'}")
        target = target_dir if is_dir else f"{target_dir}/{path.name}"
        if upload and not check_local:
            target = f"{UPLOADS}{target}"
            req.uploads.append((str(path), target))
        else:
            req.mounts.append(Mount(str(path), target, True))
        return target

    if not models:
        raise RequestError(
            "no model folder: the container holds no weights",
            "pass --models DIR or set [container] models (or [models] dir) in drdoctor's config",
            int(ExitCode.ENVIRONMENT),
        )
    models_path = Path(models).expanduser().absolute()
    if check_local and not models_path.is_dir():
        raise RequestError(f"model folder {models} does not exist", "pass --models DIR with the weights",
                           int(ExitCode.ENVIRONMENT))
    req.mounts.append(Mount(str(models_path), MODELS, True))
    if check_local:
        out_dir.mkdir(parents=True, exist_ok=True)
    req.mounts.append(Mount(str(out_dir), OUT, False))

    if ns.lyrics:
        args += ["--lyrics", host_file(ns.lyrics, "lyrics file", "/in/lyrics", upload=True)]
    if ns.style is not None:
        args += ["--style", ns.style]
    if ns.ref_audio:
        args += ["--ref-audio", host_file(ns.ref_audio, "reference audio", "/in/ref", upload=True)]
    if ns.style_embedding:
        args += ["--style-embedding", host_file(ns.style_embedding, "style embedding", "/in/style", upload=True)]
    if ns.style_from:
        args += ["--style-from", host_file(ns.style_from, "run folder", "/in/style-from", is_dir=True)]
    if ns.edit:
        args += ["--edit", host_file(ns.edit, "song to edit", "/in/song", upload=True)]
    if ns.continue_song:
        args += ["--continue", host_file(ns.continue_song, "song to continue", "/in/song", upload=True)]
    for span in ns.regenerate or ():
        args += ["--regenerate", span]
    for name in ("length", "steps", "cfg", "seed", "device", "dtype", "timeout", "batch", "accel"):
        value = getattr(ns, name)
        if value is not None:
            args += [f"--{name}", str(value)]
    if ns.chunked is not None:
        args.append("--chunked" if ns.chunked else "--no-chunked")
    if ns.bundle:
        args += ["--bundle", host_file(ns.bundle, "bundle", "/in/bundle", is_dir=True)]
    elif ns.diffrhythm:
        args += ["--diffrhythm", host_file(ns.diffrhythm, "DiffRhythm checkout", "/in/diffrhythm", is_dir=True)]
    else:
        args += ["--diffrhythm", IMAGE_CHECKOUT]
    args += ["--models", MODELS]
    for item in ns.model_file or ():
        role, sep, value = item.partition("=")
        if not sep or not role or not value:
            raise RequestError(f"--model-file {item!r} is not ROLE=PATH", "write --model-file cfm=/path/to/cfm_model.pt")
        args += ["--model-file", f"{role}={host_file(value, f'{role} model file', f'/in/model-files/{role}')}"]
    args += ["--out", _out_path(ns.out or "song.wav", out_dir, "--out")]
    args += ["--run-dir", _out_path(ns.run_dir or "runs", out_dir, "--run-dir")]
    if ns.resume:
        args += ["--resume", _out_path(ns.resume, out_dir, "--resume", cwd_relative=True)]
    for fault in ns.fault or ():
        args += ["--fault", fault]
    return req


def _out_path(value: str, out_dir: Path, option: str, cwd_relative: bool = False) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path) if cwd_relative and (Path.cwd() / path).exists() else out_dir / path
    rel = _inside(path, out_dir)
    if rel is None:
        raise RequestError(
            f"{option} {value} lies outside the output folder {out_dir}",
            "give a path inside it (relative paths are taken inside it) or choose the output folder with --output",
        )
    return str(PurePosixPath(OUT) / rel) if str(rel) != "." else OUT
