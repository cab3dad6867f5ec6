"""The request's files, judged before any model loads: the model folder, the lyrics (readable UTF-8, not half
timed, something to sing) and the clips a run reads.

Torch-free, so the service refuses a job at submit with the runner's own message (doctor/service/submit.py)
and the runner's preflight applies the very same rules (runner/stages/preflight.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from runner import textfile
from runner.errors import BadInput, EnvironmentProblem
from runner.lrc import parse_lrc
from runner.lyrics_timing import is_untimed, refuse_mixed
from runner.request import Request


def readable(path_text: str, what: str) -> Path:
    path = Path(path_text)
    if not path.is_file():
        raise BadInput(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file",
                       f"give the path of the {what}")
    if not os.access(path, os.R_OK):
        raise BadInput(f"{what} {path} cannot be read (permissions)", f"make {path} readable")
    return path


def lyrics_file_text(path: Path) -> str:
    """A lyrics file in UTF-8, or UTF-16/32 with a byte-order mark (Notepad's "Unicode"); else BadInput naming
    the byte, its line and column (runner.textfile, the one reader of a person's text files)."""
    try:
        return textfile.decode(path.read_bytes(), path).without_bom()
    except textfile.Unreadable as exc:
        raise BadInput(f"lyrics file {exc}", "save the lyrics file as UTF-8") from None


def model_folder(request: Request) -> None:
    if request.bundle:
        if not Path(request.bundle).is_dir():
            raise EnvironmentProblem(f"bundle folder {request.bundle} does not exist",
                                     "build it: python -m runner.bundle build DIR")
    elif not Path(request.diffrhythm or "").is_dir():
        raise EnvironmentProblem(f"DiffRhythm checkout {request.diffrhythm} does not exist",
                                 "give --diffrhythm the checkout folder (or run `drdoctor fix`)")


def lyrics_text(request: Request) -> str | None:
    """The lyrics file's text (None: an instrumental). Timed lines, or plain lines of words (timed over the song
    later), but not a mix, and not a file with neither."""
    if not request.lyrics:
        return None
    path = readable(request.lyrics, "lyrics file")
    text = lyrics_file_text(path)
    refuse_mixed(text, f"lyrics file {path}")
    if not is_untimed(text) and not parse_lrc(text).lines:
        raise BadInput(f"no timed line could be read from {request.lyrics}",
                       "each line needs a time stamp like [00:12.34] then the words")
    return text


def song_file(request: Request) -> tuple[str, str] | None:
    """The song an edit or a continuation starts from (as given), and what the messages call it."""
    if not (request.edit or request.continue_song):
        return None
    path, what = (request.edit, "song to edit") if request.edit else (request.continue_song, "song to continue")
    readable(path, what)
    return path, what


def check(request: Request) -> str | None:
    """Every rule above, in the order preflight applies them; the lyrics text. Raises BadInput/EnvironmentProblem."""
    model_folder(request)
    text = lyrics_text(request)
    if request.ref_audio:
        readable(request.ref_audio, "reference clip")
    song_file(request)
    return text
