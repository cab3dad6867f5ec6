"""`python -m runner.lyrics_cli time FILE --length L (--diffrhythm DIR | --bundle DIR)`: print the LRC that
a run would make of untimed lyrics, so a person can adjust it and pass it back with --lyrics.

stdout holds the LRC alone; problems go to stderr with the run's exit codes (2 bad input, 3 environment).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from runner.errors import BadInput, EnvironmentProblem, RunError
from runner.timefmt import format_seconds


def _tokenizer(args: argparse.Namespace) -> Callable[[str], list[int]]:
    if args.bundle:
        import torch

        from runner.bundle.load import load_bundle

        comps = load_bundle(args.bundle, device=torch.device("cpu"), dtype=torch.float32, parts=("style",))
        assert comps.tokenize is not None
        return comps.tokenize
    if not args.diffrhythm:
        raise BadInput("no g2p: give --diffrhythm DIR (a checkout) or --bundle DIR", "phone counts come from the g2p")
    from runner.checkout_import import import_g2p

    root = Path(args.diffrhythm).expanduser().resolve()
    if not root.is_dir():
        raise EnvironmentProblem(f"DiffRhythm checkout {root} does not exist", "give --diffrhythm the checkout folder")
    return import_g2p(root)


def _max_frames(args: argparse.Namespace) -> int:
    from runner.components import SAMPLE_RATE, SAMPLES_PER_FRAME
    from runner.tokens import max_frames_for

    if args.bundle:
        from runner.bundle.load import read_manifest

        frames = int(read_manifest(Path(args.bundle))["max_frames"])
        longest = frames * SAMPLES_PER_FRAME / SAMPLE_RATE
        if not 1.0 <= args.length <= longest + 1e-9:
            raise BadInput(f"--length {format_seconds(args.length)}: this bundle makes 1-{format_seconds(longest)}",
                           "give a shorter --length")
        return frames
    return max_frames_for(args.length)


def time_file(args: argparse.Namespace) -> str:
    from runner.components import BASE_MAX_FRAMES
    from runner.lyrics_timing import refuse_mixed, time_lyrics
    from runner.lrc import parse_lrc
    from runner.request_files import lyrics_file_text

    path = Path(args.file)
    source = f"lyrics file {path}"
    if not path.is_file():
        raise BadInput(f"{source} does not exist", "give the path of a text file with one sung line per line")
    text = lyrics_file_text(path)
    refuse_mixed(text, source)
    if parse_lrc(text).lines:
        raise BadInput(f"{source} already has time stamps", "pass it to --lyrics as it is")
    max_frames = _max_frames(args)
    _lines, lrc = time_lyrics(text, _tokenizer(args), args.length, source=source,
                              end_marker=max_frames == BASE_MAX_FRAMES)
    return lrc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.lyrics_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("time", help="time untimed lyrics over a song; prints the LRC")
    t.add_argument("file")
    t.add_argument("--length", type=float, required=True, help="song length in seconds (95, or 96-285)")
    t.add_argument("--diffrhythm", metavar="DIR", help="the checkout whose g2p counts the phones")
    t.add_argument("--bundle", metavar="DIR", help="a tiny self-test bundle instead")
    args = parser.parse_args(argv)
    try:
        lrc = time_file(args)
    except RunError as exc:
        print(f"drdoctor lyrics: {exc.message}\n  what to do: {exc.remedy}", file=sys.stderr)
        return int(exc.code)
    sys.stdout.write(lrc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
