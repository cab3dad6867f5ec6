"""The run request: `python -m runner` arguments -> one frozen `Request`.

argparse never prints to stdout here (stdout carries events only): a bad argument raises
`BadInput` with argparse's message, which the caller turns into an `error` event and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import BadInput
from runner.family import family

DEVICES_HELP = "auto | cpu | cuda | cuda:INDEX"
MODEL_ROLES = tuple(role.config_key for role in family().weights)  # the family data's weight roles
DTYPES = ("auto", "float32", "bfloat16", "float16")
ACCEL = ("auto", "off", "compile", "cfg-reuse", "cfg-reuse-3")  # runner.acceleration.ACCEL_CHOICES (torch-free here)

# the limits `validate` enforces (the TUI's form shows `problems`, which applies them)
STEPS_RANGE = (2, 1000)
CFG_RANGE = (0.0, 50.0)
BATCH_RANGE = (1, 64)

# options that a `--resume` run may change; everything else comes from the saved request
RESUME_OVERRIDABLE = ("out", "device", "dtype", "chunked", "timeout", "fault", "run_dir")


@dataclass(frozen=True)
class Request:
    lyrics: str | None = None  # path of an .lrc file; None = instrumental
    style: str | None = None  # text prompt
    ref_audio: str | None = None  # reference clip (>= 10 s)
    style_embedding: str | None = None  # .npy / .pt file holding a [1, 512] or [512] style vector
    style_from: str | None = None  # a run folder: reuse the style vector it used (its style.pt)
    edit: str | None = None  # a song to edit: only the --regenerate spans are sampled
    regenerate: tuple[str, ...] = ()  # spans "START:END" in seconds (start/end allowed) or upstream's JSON
    continue_song: str | None = None  # a song to continue up to --length
    batch: int = 1  # candidates sampled together; candidate k (1-based) uses seed + k - 1
    length: float | None = None  # seconds; None = the model's default (95 s, or the bundle's own)
    steps: int = 32
    cfg: float = 4.0
    seed: int = 0  # always set: random when not given
    device: str = "auto"
    dtype: str = "auto"
    chunked: bool = True
    accel: str = "auto"  # DiT speed-ups (runner.acceleration); cfg-reuse is lossy, opt-in
    diffrhythm: str | None = None
    models: str | None = None
    model_file: tuple[str, ...] = ()  # "ROLE=PATH", ROLE in MODEL_ROLES
    bundle: str | None = None
    out: str = "song.wav"
    run_dir: str = "runs"
    resume: str | None = None
    timeout: float | None = None
    fault: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["fault"] = list(self.fault)
        data["model_file"] = list(self.model_file)
        data["regenerate"] = list(self.regenerate)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Request":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["fault"] = tuple(values.get("fault") or ())
        values["model_file"] = tuple(values.get("model_file") or ())
        values["regenerate"] = tuple(values.get("regenerate") or ())
        return cls(**values)

    def model_paths(self) -> str | dict[str, str] | None:
        """What `runner.checkout.load_diffrhythm` takes: the models folder and/or explicit files."""
        if not self.model_file:
            return self.models
        files = dict(item.split("=", 1) for item in self.model_file)
        return {"dir": self.models, **files} if self.models else files

    def fault_value(self, name: str) -> str | None:
        """`--fault name:value` -> "value"; `--fault name` -> ""; absent -> None."""
        for item in self.fault:
            key, _, value = item.partition(":")
            if key == name:
                return value
        return None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # never print usage to stdout, never sys.exit
        raise BadInput(f"bad arguments: {message}", "run `python -m runner --help` for the options")

    def exit(self, status: int = 0, message: str | None = None) -> None:
        raise _HelpShown(status)


class _HelpShown(Exception):
    def __init__(self, status: int):
        self.status = status


# the request's fields that name files or folders
PATH_FIELDS = ("lyrics", "ref_audio", "style_embedding", "style_from", "edit", "continue_song", "diffrhythm", "models",
               "bundle", "out", "run_dir", "resume")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m runner", description="Hardened DiffRhythm generation; events on stdout.")
    add_request_arguments(p)
    return p


def add_request_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                          help_overrides: dict[str, str] | None = None) -> None:
    """The request's options, every default None (so a caller can tell what was given). `drdoctor generate` and
    `drdoctor container run generate` show the same ones, with `help_overrides` (option -> help, or
    argparse.SUPPRESS to hide one) where their meaning differs (a config default, a host path)."""
    overrides = help_overrides or {}

    def described(option: str, text: str) -> str:
        return overrides.get(option, text)

    p.add_argument("--lyrics", metavar="SONG.lrc",
                   help="timed lyrics (LRC), or plain lines that are timed over the song; none = instrumental")
    style = p.add_mutually_exclusive_group()
    style.add_argument("--style", metavar="TEXT", help="style prompt")
    style.add_argument("--ref-audio", metavar="CLIP", help="reference clip for the style (>= 10 s)")
    style.add_argument("--style-embedding", metavar="FILE", help="a saved style vector (.npy or .pt, [1, 512])")
    style.add_argument("--style-from", metavar="RUN_DIR", help="reuse the style vector of an earlier run")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--edit", metavar="SONG", help="edit SONG: regenerate only the --regenerate spans")
    mode.add_argument("--continue", dest="continue_song", metavar="SONG",
                      help="continue SONG up to --length (its own frames are kept)")
    p.add_argument("--regenerate", action="append", default=None, metavar="START:END",
                   help="a span to regenerate, in seconds (start/end allowed), repeatable; or [[10,25],[50,-1]]")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="sample N candidates (NAME-1.wav ...)")
    p.add_argument("--length", type=float, help="seconds: 95 (base model) or 96-285 (full model)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default 32)")
    p.add_argument("--cfg", type=float, default=None, help="guidance strength (default 4.0)")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: random, recorded)")
    p.add_argument("--device", default=None, help=described("--device", DEVICES_HELP))
    p.add_argument("--dtype", default=None, choices=DTYPES, help="precision (default auto: the device's best)")
    p.add_argument("--accel", default=None, choices=ACCEL,
                   help="DiT speed-ups: auto (torch.compile where it pays), off, compile, cfg-reuse / cfg-reuse-3 (the unguided "
                   "pass every 2nd / 3rd step: faster, lossy, opt-in)")
    p.add_argument("--chunked", dest="chunked", action="store_true", default=None, help="chunked VAE decode (default)")
    p.add_argument("--no-chunked", dest="chunked", action="store_false", help="decode the whole song at once")
    p.add_argument("--diffrhythm", metavar="DIR", help=described("--diffrhythm", "DiffRhythm checkout"))
    p.add_argument("--models", metavar="DIR", help=described("--models", "folder holding the model files"))
    p.add_argument("--model-file", action="append", default=None, metavar="ROLE=PATH",
                   help=described("--model-file",
                                  f"one model file ({', '.join(MODEL_ROLES)}), e.g. vae=/models/vae_model.pt"))
    p.add_argument("--bundle", metavar="DIR", help="use a tiny self-test bundle instead of a checkout")
    p.add_argument("--out", default=None, metavar="SONG.wav", help=described("--out", "the song to write"))
    p.add_argument("--run-dir", default=None, metavar="DIR",
                   help=described("--run-dir", "where run folders go (default ./runs)"))
    p.add_argument("--resume", metavar="RUN_DIR",
                   help=described("--resume", "continue a run from its saved latents or audio"))
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds (exit 6)")
    p.add_argument("--fault", action="append", default=None, metavar="NAME",
                   help=described("--fault", "self-test fault switch"))


def path_options() -> tuple[str, ...]:
    """The command-line options of PATH_FIELDS (`--continue` for continue_song, ...), from the one definition."""
    return tuple(action.option_strings[0] for action in build_parser()._actions if action.dest in PATH_FIELDS)


def parse(argv: list[str]) -> tuple[Request, set[str]]:
    """The request and the names of the options the user gave. Raises BadInput; help raises SystemExit."""
    request, given = unvalidated(argv)
    if not request.resume:
        validate(request)
    return request, given


def unvalidated(argv: list[str]) -> tuple[Request, set[str]]:
    """`parse` before `validate`: a form judges the result with `problems` (every problem, per field).
    Raises BadInput for what argparse itself refuses (an unknown option, a word where a number goes)."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except _HelpShown as shown:
        raise SystemExit(shown.status) from None
    given = {k for k, v in vars(ns).items() if v is not None}
    if ns.resume:
        return _resumed(ns, given), given
    values = {k: v for k, v in vars(ns).items() if v is not None}
    values["fault"] = tuple(values.get("fault") or ())
    values["model_file"] = tuple(values.get("model_file") or ())
    values["regenerate"] = tuple(values.get("regenerate") or ())
    if "seed" not in values:
        values["seed"] = secrets.randbelow(2**31)
    return Request(**values), given


def _resumed(ns: argparse.Namespace, given: set[str]) -> Request:
    saved_path = Path(ns.resume) / "request.json"
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{saved_path} does not exist", "--resume takes a run folder (runs/<run id>)") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read {saved_path}: {exc}", "the run folder is damaged; start a new run") from None
    base = Request.from_json(saved)
    changes: dict[str, Any] = {"resume": ns.resume}
    for name in RESUME_OVERRIDABLE:
        if name in given:
            value = getattr(ns, name)
            changes[name] = tuple(value) if name == "fault" else value
    ignored = sorted(given - set(RESUME_OVERRIDABLE) - {"resume"})
    if ignored:
        raise BadInput(
            f"--resume reuses the saved request; these options cannot change: {', '.join('--' + n for n in ignored)}",
            "start a new run to change them",
        )
    if "fault" not in changes:
        changes["fault"] = ()
    return dataclasses.replace(base, **changes)


def validate(request: Request) -> None:
    """Checks that need no files or torch (BadInput naming the option): the first of `problems` is raised.
    The checks of the files themselves are `runner.request_files` (torch-free too)."""
    found = problems(request)
    if found:
        raise found[0][1]


def problems(request: Request) -> list[tuple[str, BadInput]]:
    """Every problem `validate` knows, each with the `Request` field it is about (the TUI's form marks it)."""
    found: list[tuple[str, BadInput]] = []

    def refuse(field: str, message: str, remedy: str) -> None:
        found.append((field, BadInput(message, remedy)))

    if request.steps < STEPS_RANGE[0]:
        refuse("steps", f"--steps {request.steps}: need at least {STEPS_RANGE[0]}", "the default is 32")
    if request.steps > STEPS_RANGE[1]:
        refuse("steps", f"--steps {request.steps}: more than {STEPS_RANGE[1]}", "the default is 32")
    if not (CFG_RANGE[0] <= request.cfg <= CFG_RANGE[1]):
        refuse("cfg", f"--cfg {request.cfg}: outside {CFG_RANGE[0]:g}..{CFG_RANGE[1]:g}", "the default is 4.0")
    if request.timeout is not None and request.timeout <= 0:
        refuse("timeout", f"--timeout {request.timeout}: must be positive", "seconds, e.g. --timeout 3600")
    if request.length is not None and not (request.length > 0):
        refuse("length", f"--length {request.length}: must be positive", "95 or 96-285 seconds")
    if not (request.style or request.ref_audio or request.style_embedding or request.style_from or request.resume):
        refuse("style", "no style given",
               "give --style TEXT, --ref-audio CLIP, --style-embedding FILE or --style-from RUN_DIR")
    if request.bundle and request.diffrhythm:
        refuse("bundle", "--bundle and --diffrhythm both given", "use one: the bundle is for the self-test")
    if not request.bundle and not request.diffrhythm:
        refuse("diffrhythm", "no model: give --diffrhythm DIR (a checkout) or --bundle DIR",
               "see `drdoctor generate --help`")
    for item in request.model_file:
        role, sep, path = item.partition("=")
        if not sep or role not in MODEL_ROLES or not path:
            refuse("model_file", f"--model-file {item!r}: expected ROLE=PATH with ROLE one of {', '.join(MODEL_ROLES)}",
                   "e.g. --model-file vae=/models/vae_model.pt")
    if not (BATCH_RANGE[0] <= request.batch <= BATCH_RANGE[1]):
        refuse("batch", f"--batch {request.batch}: must be {BATCH_RANGE[0]}..{BATCH_RANGE[1]}", "e.g. --batch 4")
    if request.edit and not request.regenerate:
        refuse("regenerate", "--edit needs at least one --regenerate span",
               "e.g. --regenerate 10:25 --regenerate 50:end")
    if request.regenerate and not request.edit:
        refuse("regenerate", "--regenerate is only for --edit SONG", "add --edit SONG, or leave --regenerate out")
    if request.regenerate:
        from runner.spans import parse_spans

        try:
            parse_spans(request.regenerate)  # syntax only; the song's length is checked in preflight
        except BadInput as exc:
            found.append(("regenerate", exc))
    device = request.device
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        refuse("device", f"--device {device!r}: not one of {DEVICES_HELP}", "e.g. --device cuda:0")
    return found
