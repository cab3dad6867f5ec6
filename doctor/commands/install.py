"""`drdoctor install [FAMILY]`: from nothing to a working DiffRhythm, as a plan applied with consent.

    drdoctor install                 DiffRhythm 1.2 (doctor/data/families/diffrhythm-1.2.json)
    drdoctor install --dry-run       every step, size and source; changes nothing
    drdoctor install --yes           no questions (downloads over 1 GB and sudo otherwise ask first)
    drdoctor install --repair        re-verify everything (hash every weight, re-run the import check)
    drdoctor install --diffrhythm DIR    adopt an existing checkout (read, never changed)
    drdoctor install --models DIR    use (and fill) this Hugging Face cache, e.g. one copied from another machine

The parts: the checkout at the pinned commit, espeak-ng (the `espeak.install` fix), the environment built
from the family's lock, the weights (verified), drdoctor's config; then the checkup and the first-song command.
Exit status: 0 everything in place, 1 a step failed, 2 bad arguments or consent refused, 3 something could not
be reached or there is too little space (what could be done was done), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO_ROOT / "examples"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drdoctor install", description="Install a model family: checkout, environment, "
                                "weights, system packages and config, then the checkup.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    p.add_argument("family", nargs="?", help="a family id (default diffrhythm-1.2) or the path of a family file")
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--json", action="store_true", help="with --dry-run: the plan as one JSON document")
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument("--repair", action="store_true", help="re-verify everything and replace only what is broken")
    p.add_argument("--diffrhythm", metavar="DIR", help="adopt this checkout (never modified)")
    p.add_argument("--models", metavar="DIR", help="the Hugging Face cache to use (default: HF_HUB_CACHE / ~/.cache/huggingface/hub)")
    p.add_argument("--full-weights", action="store_true", help="also the optional weights (96-285 s songs)")
    p.add_argument("--torch-variant", metavar="V", help="this torch build (cpu, cu126, cu128, cu130) instead of the one chosen for the driver")
    p.add_argument("--driver-cuda", metavar="X.Y", help="choose torch for a driver supporting this CUDA version "
                   "(default: the driver NVML reports, as `drdoctor check` reads it)")
    p.add_argument("--compute-capability", metavar="X.Y", help="with --driver-cuda: the GPU's compute capability (8.6)")
    p.add_argument("--nvml-snapshot", metavar="FILE", help=argparse.SUPPRESS)  # recorded GPU facts (tests)
    p.add_argument("--tool", choices=("uv", "pip"), help="what builds the environment (default: uv when installed)")
    p.add_argument("--index-url", metavar="URL", help="package index for the environment (env DRDOCTOR_PIP_INDEX_URL)")
    p.add_argument("--find-links", metavar="DIR", action="append", default=[],
                   help="a wheel folder; without --index-url the environment is built offline (env DRDOCTOR_PIP_FIND_LINKS)")
    p.add_argument("--events", metavar="FILE", help="append NDJSON progress events to FILE (for the TUI)")
    p.add_argument("--no-check", action="store_true", help="do not run the checkup at the end")
    return p


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"  needs your consent: {question}\n  (no terminal to ask on: run again with --yes)")
        return False
    try:
        return input(f"  {question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _options(args: argparse.Namespace):
    from doctor.fixes.context import PipSource
    from doctor.install.families import resolve_family
    from doctor.install.planner import InstallOptions
    from runner import locations

    family = resolve_family(args.family)
    driver_cuda, driver_version, capability = _gpu(args)
    return InstallOptions(
        family_arg=str(family.path) if args.family else family.id,
        family=family,
        env=dict(os.environ),
        diffrhythm=locations.expand(args.diffrhythm) if args.diffrhythm else None,
        models=locations.expand(args.models) if args.models else None,
        variant=args.torch_variant,
        driver_cuda=driver_cuda,
        driver_version=driver_version,
        compute_capability=capability,
        sources=PipSource.from_env(os.environ, args.index_url, list(args.find_links)),
        tool=args.tool,
        repair=args.repair,
        optional=args.full_weights,
        events=Path(args.events).resolve() if args.events else None,
    )


def _gpu(args: argparse.Namespace) -> tuple:
    """(driver CUDA, Linux driver number, first GPU's capability): --driver-cuda/--compute-capability plan for
    another machine; else the GPU probe of the checkup (NVML, or a recorded snapshot)."""
    from doctor.container.problems import is_wsl
    from doctor.fixes.gather import parse_cuda
    from doctor.probes import gpu, nvml

    if args.driver_cuda:
        capability = parse_cuda(args.compute_capability) if args.compute_capability else None
        return parse_cuda(args.driver_cuda), None, capability
    if args.compute_capability:
        raise ValueError("--compute-capability goes with --driver-cuda (without them the GPU is asked)")
    facts = gpu.probe(Path("/"), nvml.recorded(Path(args.nvml_snapshot)) if args.nvml_snapshot else nvml.live)
    if not facts.driver_works:
        return None, None, None
    capability = next((d.compute_capability for d in facts.devices if d.compute_capability), None)
    return facts.cuda_driver, None if is_wsl() else facts.driver_version, capability


def _reach(opts):
    """Ask only for what this run needs: the source host when a clone is due, the Hub when files are
    missing, the package indexes when the environment must be built."""
    from doctor.install import checkout as checkout_mod
    from doctor.install import environment as env_mod
    from doctor.install import planner, reach
    from doctor.install.lock import SpecError, environment_spec
    from runner.family import install_layout

    family = opts.family
    layout = install_layout(family.id, opts.env)
    source = None
    if opts.diffrhythm is None and not checkout_mod.state(layout.checkout).at(family.upstream_commit):
        source = family.upstream_repo
    indexes: list[str] = []
    try:
        spec = environment_spec(family)
        variant = planner.choose_variant(opts, spec).variant
        lock_path = spec.variants[variant].lock if variant in spec.variants else None
        if lock_path is not None and lock_path.is_file() and (
                opts.repair or not env_mod.up_to_date(layout.venv, env_mod.read_lock(lock_path))):
            indexes = planner.index_urls(opts, spec, variant)
    except (SpecError, KeyError):
        pass
    return reach.probe(hub=planner.needed_hub(opts), source=source, indexes=indexes)


def _first_song_command() -> str:
    exe = Path(sys.executable).parent / "drdoctor"
    drdoctor = str(exe) if exe.exists() else "drdoctor"
    try:
        drdoctor = os.path.relpath(drdoctor) if Path(drdoctor).is_absolute() and Path.cwd() == REPO_ROOT else drdoctor
    except ValueError:
        pass
    lyrics = EXAMPLES / "first-song.lrc"
    lyrics_arg = os.path.relpath(lyrics) if Path.cwd() == REPO_ROOT else str(lyrics)
    try:
        style = (EXAMPLES / "first-song.style.txt").read_text(encoding="utf-8").strip()
    except OSError:
        style = "pop"
    return shlex.join([drdoctor, "generate", "--lyrics", lyrics_arg, "--style", style, "--out", "first-song.wav"])


def consent_reason(part, plan) -> str | None:
    """Why a part asks before it runs, or None: it runs as root, or it downloads over 1 GB (the CLI asks on
    the terminal, the TUI in a dialog)."""
    if part.blocked or part.empty:
        return None
    if part.needs_root:
        return "runs as root"
    return "downloads over 1 GB" if part.fix_id in plan.big else None


def apply(opts, plan, args) -> int:
    from doctor.fixes.apply import apply_plan
    from doctor.install import planner
    from doctor.install.lock import SpecError, environment_spec
    from doctor.install.progress import Events
    from doctor.install.state import installed_state

    results: dict[str, str] = {}
    reach = plan.reach
    events = Events(opts.events)

    def run(part) -> None:
        if "interrupted" in results.values() and part.fix_id != "install.config":
            return  # Ctrl-C stops the install; only what is complete is still recorded (the config step)
        events.emit("part_started", part=part.fix_id, title=part.title)
        state, message = _run_part(part)
        results[part.fix_id] = state
        events.emit("part_finished", part=part.fix_id, state=state, message=message)

    def _run_part(part) -> tuple[str, str]:
        if part.blocked:
            print(part.render())
            return "blocked", part.blocked
        if part.empty:
            print(part.render())
            return "done", part.done_reason or ""
        why = consent_reason(part, plan)
        if why:
            print(part.render())
            if not _confirm(f"{part.fix_id} {why}: go ahead?", args.yes):
                return "declined", f"{why}: not confirmed"
        result = apply_plan(part, confirm=lambda _question: True, out=sys.stdout)
        # a step module's exit status 3: something could not be reached or there is no room (not a bug)
        environment = result.state == "failed" and result.message.endswith(f"exited with status {EXIT_ENVIRONMENT}")
        if not result.ok:
            print(f"  {part.fix_id}: {result.message}")
        return ("blocked" if environment else result.state), result.message

    checkout_plan = plan.parts[0]
    run(checkout_plan)
    checkout = plan.checkout if installed_state(opts, plan.checkout, plan.cache).checkout else None
    run(plan.parts[1])
    try:
        spec = environment_spec(opts.family)
        variant = planner.choose_variant(opts, spec).variant
        run(planner.plan_environment(opts, spec, variant, checkout, reach, False))
    except SpecError as exc:
        print(f"== install.environment\n   cannot install here: {exc}")
        results["install.environment"] = "blocked"
        events.emit("part_finished", part="install.environment", state="blocked", message=str(exc))
    run(plan.parts[3])
    run(planner.plan_config(opts, checkout, plan.cache))

    print("\n== summary")
    for fix_id, state in results.items():
        print(f"  {fix_id:<22} {state}")
    states = set(results.values())
    if not args.no_check and "interrupted" not in states:
        print("\n== checkup (drdoctor check)")
        sys.stdout.flush()
        subprocess.run([sys.executable, "-m", "doctor", "check"], check=False, timeout=600)
    done = installed_state(opts, checkout, plan.cache)
    first_song = None
    if done.checkout and done.environment and done.weights:
        first_song = _first_song_command()
        print(f"\nDiffRhythm is installed. Make your first song:\n  {first_song}")
    else:
        missing = [name for name, ok in (("checkout", done.checkout), ("environment", done.environment),
                                         ("weights", done.weights)) if not ok]
        print(f"\nNot complete yet: {', '.join(missing)} (see above). Run `drdoctor install` again once that is "
              "resolved; what is in place is kept.")
    if "interrupted" in states:
        code = EXIT_INTERRUPTED
    elif "failed" in states:
        code = EXIT_FAILED
    elif "declined" in states:
        code = EXIT_USAGE
    elif "blocked" in states:
        code = EXIT_ENVIRONMENT
    else:
        code = EXIT_OK
    events.emit("install_finished", exit_code=code, results=results, first_song=first_song,
                installed={"checkout": done.checkout, "environment": done.environment, "weights": done.weights})
    return code


def make_plan(args: argparse.Namespace):
    """(options, plan) for these arguments: what `drdoctor install` shows and applies, and what the TUI shows.
    Raises FamilyError or ValueError for a bad family, option or --diffrhythm folder."""
    from doctor.install import planner

    opts = _options(args)
    if opts.diffrhythm is not None and not opts.diffrhythm.is_dir():
        raise ValueError(f"--diffrhythm {opts.diffrhythm}: no such folder")
    return opts, planner.make_plan(opts, _reach(opts))


def main(argv: list[str]) -> int:
    from runner.family import FamilyError

    args = parser().parse_args(argv)
    if args.json and not args.dry_run:
        print("drdoctor install: --json prints the plan: use it with --dry-run", file=sys.stderr)
        return EXIT_USAGE
    try:
        opts, plan = make_plan(args)
    except (FamilyError, ValueError) as exc:
        print(f"drdoctor install: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        if args.json:
            print(json.dumps({"facts": plan.facts, "torch": plan.torch.to_json() if plan.torch else None,
                              "parts": [p.to_json() for p in plan.parts], "consent": sorted(plan.big)}, indent=1))
        else:
            print(plan.render())
            print("dry run: nothing was changed. Apply with `drdoctor install` (add --yes to skip the questions).")
        return EXIT_OK
    print(plan.header())
    try:
        return apply(opts, plan, args)
    except KeyboardInterrupt:
        print("\ninterrupted: what finished is kept; run `drdoctor install` again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
