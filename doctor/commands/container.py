"""`drdoctor container status|pull|build|run generate`: the CUDA container, through the Docker SDK only.

Exit codes: 0 ok; 1 a pull/build failed or the image is missing; 2 bad arguments or paths;
3 the engine cannot be reached or refuses the GPU request (environment); `run` returns the runner's code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from runner.events import ExitCode, encode, make_event

from doctor import config as drconfig
from doctor.container import endpoint as ep
from doctor.container.images import DEFAULT_IMAGE, source_root
from doctor.container.problems import DockerProblem, classify_connect_error, is_wsl

def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--docker-host", metavar="URL", help="engine to use (default: DOCKER_HOST, docker context, local socket)")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout instead of text")
    p.add_argument("--engine-timeout", type=float, default=60.0, metavar="S", help="engine API timeout (default 60)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor container", description="Build, pull and run the CUDA container.")
    sub = p.add_subparsers(dest="action", required=True)

    s = sub.add_parser("status", help="engine reachable, version, image present, GPU support")
    _common(s)
    s.add_argument("--image", help=f"image to look for (default: [container] image, else {DEFAULT_IMAGE})")
    s.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)

    s = sub.add_parser("pull", help="pull an image from a registry you name, with per-layer progress")
    _common(s)
    s.add_argument("image", nargs="?", help="image reference, e.g. registry.example:5000/drdoctor:cu126 "
                   "(default: [container] image; drdoctor's own image is built, not pulled)")

    s = sub.add_parser("build", help="build the image from containers/Dockerfile")
    _common(s)
    s.add_argument("--flavour", help="CUDA flavour: a CUDA variant of the family with a lock (cu126, cu128, cu130); "
                   "default: the newest this machine's driver runs")
    s.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)
    s.add_argument("--tag", help="image reference to build (default drdoctor:FLAVOUR)")
    s.add_argument("--context", help="build context (default: this drdoctor checkout)")
    s.add_argument("--file", help="Dockerfile inside the context (default containers/Dockerfile)")
    s.add_argument("--build-arg", action="append", default=[], metavar="K=V")
    s.add_argument("--pull", action="store_true", help="always pull a newer base image")

    s = sub.add_parser("run", help="run generation in the container")
    run_sub = s.add_subparsers(dest="what", required=True)
    g = run_sub.add_parser("generate", help="`drdoctor generate` inside the container, on the GPU")
    _common(g)
    from doctor.container.request import add_generate_arguments

    add_generate_arguments(g)
    g.add_argument("--image", help=f"image to run (default: [container] image, else {DEFAULT_IMAGE})")
    g.add_argument("--output", metavar="DIR", help="host output folder mounted at /out (default: [container] out, else ./out)")
    gpus = g.add_mutually_exclusive_group()
    gpus.add_argument("--cpu", action="store_true", help="run without the GPU request (slow; on purpose only)")
    gpus.add_argument("--gpu", metavar="N", help="only GPU N (`--gpus device=N`; default: all GPUs)")
    g.add_argument("--user", help="UID:GID inside the container (default: yours, so outputs are yours)")
    g.add_argument("--stop-timeout", type=float, default=10.0, metavar="S", help="after Ctrl-C, wait S s before killing")
    g.add_argument("--host-paths", action="store_true",
                   help="with --json: the events' container paths (/out/...) made the host's (what the app reads)")
    g.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)
    return p


def _say_problem(problem: DockerProblem, json_mode: bool) -> int:
    if json_mode:
        print(json.dumps({"v": 1, "type": "error", **problem.to_json()}), flush=True)
    print(f"drdoctor: {problem.message}\n  fix: {problem.remedy}", file=sys.stderr, flush=True)
    return problem.code


def _connect(args):
    import docker

    endpoint = ep.resolve(args.docker_host)
    try:
        return endpoint, ep.connect(endpoint, timeout=args.engine_timeout)
    except docker.errors.DockerException as exc:
        raise classify_connect_error(exc, endpoint, wsl=is_wsl()) from None


def _config() -> dict:
    try:
        return drconfig.load()
    except drconfig.ConfigError as exc:
        print(f"drdoctor: {exc}", file=sys.stderr)
        return {}


def _image(flag: str | None, cfg: dict) -> str:
    return flag or drconfig.get(cfg, "container", "image") or DEFAULT_IMAGE


def cmd_status(args) -> int:
    from doctor.container import status as st

    try:
        endpoint = ep.resolve(args.docker_host)
    except ep.EndpointError as exc:
        return _say_problem(DockerProblem("unreachable", str(exc), "`docker context ls`; `docker context use default`"), args.json)
    driver = (lambda: _host_driver(args)) if endpoint.is_local else None
    facts = st.collect(endpoint, _image(args.image, _config()), timeout=min(args.engine_timeout, 10.0), driver=driver)
    if args.json:
        print(json.dumps(facts.to_json(), indent=2))
    else:
        print("\n".join(st.render(facts)))
    if not facts.reachable:
        return int(ExitCode.ENVIRONMENT)
    if facts.image is not None and not facts.image.present:
        return 1
    return 1 if (facts.flavour_match or {}).get("status") == "fail" else 0


def _host_driver(args):
    from doctor.container.flavour_match import host_driver

    return host_driver(Path(args.nvml_snapshot) if args.nvml_snapshot else None)


def _refuse_unfit_flavour(client, image: str, args) -> None:
    """Before a GPU run on a local engine: the image's CUDA flavour must be one this driver runs (exit 3)."""
    import docker

    from doctor.container.flavour_match import judge
    from doctor.container.images import load_flavours

    try:
        labels = (client.images.get(image).attrs.get("Config") or {}).get("Labels") or {}
    except docker.errors.ImageNotFound:
        return  # `run` itself says the image is missing
    match = judge(labels, _host_driver(args), load_flavours())
    if match.status == "fail":
        raise DockerProblem("flavour", f"{image}: {match.message}", match.remedy + "; `--cpu` runs without the GPU",
                            int(ExitCode.ENVIRONMENT))


def _progress(op: str, image: str, json_mode: bool):
    from doctor.container.progress import JsonProgress, TerminalProgress

    return JsonProgress(op, image) if json_mode else TerminalProgress(op, image)


def cmd_pull(args) -> int:
    from doctor.container.images import pull

    image = args.image or drconfig.get(_config(), "container", "image")
    if not image:  # drdoctor's own image is in no registry: it is built where it runs
        return _say_problem(DockerProblem(
            "image", "no image to pull: drdoctor's image is published in no registry",
            "build it on this engine: `drdoctor container build` (--flavour for your driver, see "
            "`drdoctor container status`), or pull one your registry holds: `drdoctor container pull REGISTRY/NAME:TAG` "
            "(or set [container] image)", int(ExitCode.BAD_INPUT)), args.json)
    _, client = _connect(args)
    view = _progress("pull", image, args.json)
    try:
        result = pull(client, image, view)
    except DockerProblem as problem:
        view.failed(problem.message, problem.remedy)
        return problem.code
    view.done(result["id"], result["size"])
    return 0


def cmd_build(args) -> int:
    from doctor.container.images import build, flavour_build_args, load_flavours

    context = Path(args.context or source_root()).absolute()
    dockerfile = args.file or "containers/Dockerfile"
    if Path(dockerfile).is_absolute():
        try:
            dockerfile = str(Path(dockerfile).resolve().relative_to(context.resolve()))
        except ValueError:
            raise DockerProblem("build", f"{args.file} is not inside the build context {context}",
                                "put the Dockerfile in the context or pass --context", 2) from None
    if not (context / dockerfile).is_file():
        raise DockerProblem("build", f"no Dockerfile at {context / dockerfile}",
                            "build from a drdoctor source checkout, or pass --context and --file", 2)
    buildargs: dict[str, str] = {}
    flavours = load_flavours() if (args.flavour or args.file is None) else {}
    flavour = args.flavour or (_flavour_for_this_driver(args, flavours) if args.file is None else None)
    if flavour:
        buildargs.update(flavour_build_args(flavour, flavours))
    for item in args.build_arg:
        key, sep, value = item.partition("=")
        if not sep:
            raise DockerProblem("build", f"--build-arg {item!r} is not K=V", "write --build-arg NAME=VALUE", 2)
        buildargs[key] = value
    tag = args.tag or f"drdoctor:{flavour or 'custom'}"
    _, client = _connect(args)
    view = _progress("build", tag, args.json)
    try:
        result = build(client, tag, context, dockerfile, buildargs, view, pull_base=args.pull)
    except DockerProblem as problem:
        view.failed(problem.message, problem.remedy)
        return problem.code
    view.done(result["id"], result["size"])
    return 0


def _flavour_for_this_driver(args, flavours: dict) -> str:
    """The newest flavour the local driver runs (the rule of `container status`); the default for a remote engine
    or no driver. A driver that starts none is told exactly which driver to install (the image still runs --cpu)."""
    from doctor.container.flavour_match import fitting_flavour, no_flavour_remedy

    try:
        local = ep.resolve(args.docker_host).is_local
    except ep.EndpointError:
        local = False
    driver = _host_driver(args) if local else None
    if driver is None or driver.cuda is None:
        return flavours["default"]
    fitting = fitting_flavour(driver, flavours)
    if fitting is None:
        print(f"drdoctor: note: {no_flavour_remedy(driver, flavours)}; building the {flavours['default']} flavour",
              file=sys.stderr, flush=True)
    return fitting or flavours["default"]


def _emit_failure(problem: DockerProblem, json_mode: bool) -> int:
    """Before the runner starts, a failure still reaches a JSON consumer as runner-style events."""
    if json_mode:
        fields = {"stage": "preflight", "code": problem.code, "message": problem.message, "remedy": problem.remedy}
        print(encode(make_event("error", "container", **fields)), flush=True)
        print(encode(make_event("run_finished", "container", ok=False, exit_code=problem.code, output=None,
                                seconds=0.0)), flush=True)
    print(f"drdoctor: {problem.message}\n  fix: {problem.remedy}", file=sys.stderr, flush=True)
    return problem.code


def cmd_run(args) -> int:
    from doctor.container import launch
    from doctor.container.request import RequestError, translate
    from doctor.container.view import make_view

    cfg = _config()
    image = _image(args.image, cfg)
    models = args.models or drconfig.get(cfg, "container", "models") or drconfig.get(cfg, "models", "dir")
    output = args.output or drconfig.get(cfg, "container", "out") or str(Path.cwd() / "out")
    try:
        endpoint = ep.resolve(args.docker_host)
        creq = translate(args, models, output, check_local=endpoint.is_local)
        _, client = _connect(args)
        if endpoint.is_local and not args.cpu:
            _refuse_unfit_flavour(client, image, args)
    except RequestError as exc:
        return _emit_failure(DockerProblem("request", exc.message, exc.remedy, exc.code), args.json)
    except ep.EndpointError as exc:
        return _emit_failure(DockerProblem("unreachable", str(exc), "`docker context ls`"), args.json)
    except DockerProblem as problem:
        return _emit_failure(problem, args.json)
    user = args.user or (f"{os.getuid()}:{os.getgid()}" if endpoint.is_local and hasattr(os, "getuid") else None)
    view = make_view(args.json, to_host=creq.host_text if (args.host_paths or not args.json) else None)
    if args.cpu and not args.json:
        print("drdoctor: --cpu: running without the GPU request (slow)", file=sys.stderr)
    try:
        result = launch.run(client, image, creq, view, gpu=not args.cpu, user=user,
                            stop_timeout=args.stop_timeout, gpu_devices=[args.gpu] if args.gpu else None)
    except DockerProblem as problem:
        return _emit_failure(problem, args.json)
    launch.finish_view(view)
    if not result.finished and not result.interrupted:
        if result.code == 0:
            result.code = int(ExitCode.FAILURE)
        why = " (killed: out of memory?)" if result.code == 137 else ""
        print(f"drdoctor: the runner in {image} stopped without reporting an outcome (exit {result.code}){why}; "
              "its stderr is above", file=sys.stderr)
    if result.interrupted:
        where = creq.output_dir / (args.run_dir or "runs") / result.run_id if result.run_id else creq.output_dir
        print(f"drdoctor: stopped; container {result.container} removed; run folder kept: {where}", file=sys.stderr)
    return result.code


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    handler = {"status": cmd_status, "pull": cmd_pull, "build": cmd_build, "run": cmd_run}[args.action]
    try:
        return handler(args)
    except DockerProblem as problem:
        return _say_problem(problem, getattr(args, "json", False))
    except ep.EndpointError as exc:
        return _say_problem(DockerProblem("unreachable", str(exc), "`docker context ls`"), getattr(args, "json", False))
    except KeyboardInterrupt:
        print("drdoctor: interrupted", file=sys.stderr)
        return int(ExitCode.CANCELLED)
