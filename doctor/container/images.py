"""Pull and build the image, with per-layer progress.

The CUDA flavours are the family's environment variants (doctor/data/families/) that have a CUDA build and a lock:
the image installs exactly that lock, the one `drdoctor install` uses, so local and container pins are one set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from doctor import wheels
from doctor.container.problems import DockerProblem, api_error_text
from doctor.container.progress import StreamError, Tracker, follow
from runner.family import family

DEFAULT_IMAGE = "drdoctor:cu126"  # drdoctor:<the default flavour> (a test keeps them equal)
RETIRED = {"cu118": "PyPI serves no CUDA 11.8 torch, and the image installs only from a lock (torch 2.7 was the "
                    "last cu118 release, on download.pytorch.org only)"}


def source_root() -> Path:
    """The drdoctor checkout this package runs from (it holds containers/ and the build context)."""
    return Path(__file__).resolve().parent.parent.parent


def load_flavours(family_id: str | None = None) -> dict[str, Any]:
    """{"default": NAME, "base_image": REF, "flavour": {NAME: row}}: one row per CUDA variant of the family with a
    lock. The default is the flavour the most drivers start (the lowest driver floor), then the oldest CUDA."""
    from doctor.install.lock import SpecError, environment_spec

    fam = family(family_id) if family_id else family()
    try:
        spec = environment_spec(fam)
    except SpecError as exc:
        raise DockerProblem("build", str(exc), "the image needs a family with an inference environment", 2) from None
    rows: dict[str, dict[str, Any]] = {}
    for name, v in spec.variants.items():
        cuda = wheels.variant_cuda(name)
        if cuda is None or not v.lock.is_file():
            continue
        floor = wheels.driver_requirement(cuda)
        archs = wheels.arch_set(v.torch, name)
        try:
            lock = v.lock.resolve().relative_to(source_root()).as_posix()
        except ValueError:
            lock = str(v.lock)  # a family outside this checkout: only a --context that holds it can build it
        rows[name] = {"cuda": f"{cuda[0]}.{cuda[1]}", "torch": v.torch, "torchaudio": v.torchaudio, "lock": lock,
                      "index": v.index, "min_driver": wheels.driver_text(floor[1]) if floor else None,
                      "archs": archs.describe() if archs else None}
    if not rows:
        raise DockerProblem("build", f"{fam.path}: no CUDA variant has a lock",
                            f"generate one: `python -m doctor.install.lock {fam.id}`", 2)
    default = min(rows, key=lambda n: (wheels.version_tuple(rows[n]["min_driver"] or "0"),
                                       wheels.version_tuple(rows[n]["cuda"])))
    return {"default": default, "base_image": spec.container_base, "family": fam.id,
            "commit": fam.upstream_commit, "flavour": rows}


def oldest_floor(flavours: dict[str, Any]) -> tuple[str, str]:
    """(flavour, driver): the default flavour, the one with the lowest driver floor, and that floor."""
    name = flavours["default"]
    return name, flavours["flavour"][name]["min_driver"]


def flavour_build_args(flavour: str, flavours: dict[str, Any]) -> dict[str, str]:
    table = flavours.get("flavour", {})
    if flavour not in table:
        retired = RETIRED.get(flavour)
        if retired:
            name, floor = oldest_floor(flavours)
            raise DockerProblem(
                "build", f"the {flavour} flavour is no longer built: {retired}",
                f"with an NVIDIA driver {floor} or newer build `--flavour {name}` (choose one of: "
                f"{', '.join(sorted(table))}); an older driver runs the image with `container run generate --cpu`", 2)
        raise DockerProblem(
            "build", f"unknown CUDA flavour {flavour!r}",
            f"choose one of: {', '.join(sorted(table))} (the CUDA variants of {flavours.get('family')} that have a "
            "lock)", 2)
    row = table[flavour]
    return {
        "FLAVOUR": flavour,
        "BASE_IMAGE": flavours["base_image"],
        "LOCK": row["lock"],  # the environment: the family's lock of this variant, installed with --require-hashes
        "TORCH_VERSION": row["torch"],
        "CUDA_VERSION": row["cuda"],
        "DIFFRHYTHM_COMMIT": flavours["commit"],  # the family data is the one place for the pin
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
