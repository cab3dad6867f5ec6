"""Pull and build the image, with per-layer progress. The CUDA flavour table is `containers/flavours.toml`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from doctor.container.problems import DockerProblem, api_error_text
from doctor.container.progress import StreamError, Tracker, follow
from runner.family import family

DEFAULT_IMAGE = "drdoctor:cu118"


def source_root() -> Path:
    """The drdoctor checkout this package runs from (it holds containers/ and the build context)."""
    return Path(__file__).resolve().parent.parent.parent


def load_flavours(path: Path | None = None) -> dict[str, Any]:
    path = path or source_root() / "containers" / "flavours.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DockerProblem(
            "build", f"{path} does not exist", "build from a drdoctor source checkout, or pass --context", 2
        ) from None


def flavour_build_args(flavour: str, flavours: dict[str, Any]) -> dict[str, str]:
    table = flavours.get("flavour", {})
    if flavour not in table:
        raise DockerProblem(
            "build", f"unknown CUDA flavour {flavour!r}", f"choose one of: {', '.join(sorted(table))}", 2
        )
    row = table[flavour]
    return {
        "FLAVOUR": flavour,
        "BASE_IMAGE": row["base_image"],
        "TORCH_VERSION": row["torch"],
        "TORCHAUDIO_VERSION": row["torchaudio"],
        "CUDA_VERSION": row["cuda"],
        "DIFFRHYTHM_COMMIT": family().upstream_commit,  # the family data is the one place for the pin
    }


def split_ref(ref: str) -> tuple[str, str]:
    """"host:5000/name:tag" -> ("host:5000/name", "tag"); no tag -> "latest"; digests stay whole."""
    if "@" in ref:
        return ref, ""
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        return ref, "latest"
    return repo, tag


def _failure(op: str, ref: str, reason: str) -> DockerProblem:
    lowered = reason.lower()
    if "not found" in lowered or "manifest unknown" in lowered or "does not exist" in lowered:
        remedy = "check the image name and tag (and `docker login` for a private registry)"
    elif "unauthorized" in lowered or "denied" in lowered or "credentials" in lowered:
        remedy = "log in to the registry (`docker login REGISTRY`) or use a public image"
    elif "connection refused" in lowered or "no such host" in lowered or "timeout" in lowered:
        remedy = "the registry cannot be reached from the engine: check its network and proxy settings"
    else:
        remedy = "see the message above; retry with `--json` for the engine's full stream"
    return DockerProblem("image", f"{op} of {ref} failed: {reason}", remedy, 1)


def pull(client, ref: str, view) -> dict[str, Any]:
    import docker

    repo, tag = split_ref(ref)
    tracker = Tracker()
    try:
        follow(client.api.pull(repo, tag=tag or None, stream=True, decode=True), tracker, view)
        image = client.images.get(ref)
    except StreamError as exc:
        raise _failure("pull", ref, str(exc)) from None
    except docker.errors.APIError as exc:
        raise _failure("pull", ref, api_error_text(exc)) from None
    return {"id": image.id, "size": image.attrs.get("Size"), "layers": len(tracker.layers)}


def _base_missing(client, base: str | None) -> bool:
    """After a failed build: the base image is not on the engine, so the build stopped at its FROM."""
    import docker

    if not base:
        return False
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        return True
    except docker.errors.APIError:
        return False
    return False


def _base_failure(ref: str, base: str, reason: str) -> DockerProblem:
    return DockerProblem(
        "image", f"build of {ref} failed: its base image {base} cannot be pulled: {reason}",
        f"the engine must reach the registry of {base} (check its network and proxy), or get the image onto the "
        f"engine another way (`docker pull {base}` where it can be reached, then `docker save`/`docker load`); "
        "`--build-arg BASE_IMAGE=REF` builds on another base", 1)


def build(client, ref: str, context: Path, dockerfile: str, buildargs: dict[str, str], view,
          pull_base: bool = False) -> dict[str, Any]:
    """Raises DockerProblem; one that names the base image (`BASE_IMAGE`) when that could not be pulled."""
    import docker

    tracker = Tracker()
    try:
        stream = client.api.build(
            path=str(context), dockerfile=dockerfile, tag=ref, buildargs=buildargs, rm=True,
            forcerm=True, pull=pull_base, decode=True,
        )
        follow(stream, tracker, view)
        image = client.images.get(ref)
    except (StreamError, docker.errors.APIError) as exc:
        reason = str(exc) if isinstance(exc, StreamError) else api_error_text(exc)
        base = buildargs.get("BASE_IMAGE")
        if _base_missing(client, base):
            raise _base_failure(ref, base, reason) from None
        raise _failure("build", ref, reason) from None
    except (TypeError, OSError) as exc:  # unreadable context
        raise _failure("build", ref, str(exc)) from None
    return {"id": image.id, "size": image.attrs.get("Size"), "layers": len(tracker.layers)}
