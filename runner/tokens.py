"""Song length -> frame counts, and timed lyric lines -> the frame-aligned token row the DiT reads.

The row is built exactly as upstream builds it (DIFFRHYTHM.md, step 1), so that the same lines and the
same tokenizer give the same tensor; what upstream does silently is reported here as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import torch

from runner.components import BASE_MAX_FRAMES, FULL_MAX_FRAMES, SAMPLE_RATE, SAMPLES_PER_FRAME
from runner.errors import BadInput, EnvironmentProblem
from runner.timefmt import format_seconds

BASE_LENGTH_S = 95
FULL_MIN_LENGTH_S = 96
FULL_MAX_LENGTH_S = 285
COMMA_ID = 1  # after the +1 shift
PERIOD_ID = 2  # after the +1 shift
PUSH_WARN_FRAMES = 22  # about one second: smaller pushes are normal for dense lyrics

ALLOWED_LENGTHS = f"{BASE_LENGTH_S} (base model) or {FULL_MIN_LENGTH_S}..{FULL_MAX_LENGTH_S} (full model)"


class _Line(Protocol):
    start: float
    text: str
    lineno: int


@dataclass
class TokenRow:
    tokens: torch.Tensor  # LongTensor [end_frame]
    end_frame: int
    warnings: list[str] = field(default_factory=list)


def _as_whole_seconds(length_s: object) -> int | None:
    if isinstance(length_s, bool):
        return None
    if isinstance(length_s, int):
        return length_s
    if isinstance(length_s, float) and length_s.is_integer():
        return int(length_s)
    return None


def max_frames_for(length_s: object) -> int:
    """95 -> 2048 (base model); 96..285 -> 6144 (full model); anything else is a bad request."""
    whole = _as_whole_seconds(length_s)
    if whole == BASE_LENGTH_S:
        return BASE_MAX_FRAMES
    if whole is not None and FULL_MIN_LENGTH_S <= whole <= FULL_MAX_LENGTH_S:
        return FULL_MAX_FRAMES
    raise BadInput(
        f"song length {length_s!r} s is not possible: DiffRhythm makes songs of {ALLOWED_LENGTHS} whole seconds",
        f"ask for a length of {ALLOWED_LENGTHS} seconds",
    )


def end_frame_for(length_s: float, max_frames: int) -> int:
    """How many latent frames the song has: all 2048 for base; length * 44100 / 2048 for full, capped."""
    if max_frames == BASE_MAX_FRAMES:
        return BASE_MAX_FRAMES
    # Same expression (and so the same float rounding) as upstream.
    return min(int(length_s * (SAMPLE_RATE / SAMPLES_PER_FRAME)), max_frames)


def build_token_row(
    lines: Sequence[_Line],
    tokenize: Callable[[str], list[int]] | None,
    length_s: float,
    max_frames: int,
    source: str = "the lyrics",
) -> TokenRow:
    """`lines` in song order (parse_lrc sorts them); `tokenize(text)` gives g2p ids before the +1 shift.

    Lyrics of which no line would be sung are a bad request (`source` names the file), not an instrumental."""
    warnings: list[str] = []
    kept = [line for line in lines if line.start < length_s]
    end = format_seconds(length_s)
    late = [line for line in lines if line.start >= length_s]
    if lines and not kept:
        raise BadInput(
            f"{source}: every line starts at or after the song's end ({end}), so nothing would be sung: "
            + ", ".join(f"line {line.lineno} at {format_seconds(line.start)}" for line in late[:8])
            + (f" and {len(late) - 8} more" if len(late) > 8 else ""),
            f"move the time stamps before {end}, ask for a longer --length, or leave --lyrics out for an instrumental",
        )
    for line in late:
        warnings.append(f"LRC line {line.lineno} starts at {format_seconds(line.start)}, at or after the song's end "
                        f"({end}): dropped")
    if max_frames == BASE_MAX_FRAMES and kept:
        last = kept.pop()
        if not kept:
            raise BadInput(
                f"{source}: line {last.lineno} ({last.text[:40]!r} at {format_seconds(last.start)}) is the only line "
                "before the song's end, and the base model (95 s) never sings the last line (upstream drops it "
                "too), so nothing would be sung",
                "add a line after it (an empty time stamp such as [01:30.00] will do), or ask for --length 96-285",
            )
        warnings.append(
            f"LRC line {last.lineno} ({last.text[:40]!r} at {format_seconds(last.start)}) dropped: the base model "
            "(95 s) never sings the last lyric line (upstream does the same; kept for identical results)"
        )
    if kept and tokenize is None:
        raise EnvironmentProblem(
            "this install cannot turn lyrics into phonemes (it has no g2p)",
            "generate an instrumental (no lyrics), or use a DiffRhythm checkout whose g2p works",
        )

    end_frame = end_frame_for(length_s, max_frames)
    row = torch.zeros((end_frame,), dtype=torch.long)
    last_end = 0
    for line in kept:
        ids = [int(i) + 1 for i in tokenize(line.text)]  # type: ignore[misc]
        ids = [COMMA_ID if i == PERIOD_ID else i for i in ids] + [PERIOD_ID]
        wanted = int(line.start * SAMPLE_RATE / SAMPLES_PER_FRAME)  # upstream's expression
        start = max(wanted, last_end)
        room = end_frame - start
        count = min(len(ids), room)
        if start > wanted + PUSH_WARN_FRAMES:
            warnings.append(
                f"LRC line {line.lineno} pushed from {format_seconds(line.start)} to "
                f"{format_seconds(start * SAMPLES_PER_FRAME / SAMPLE_RATE)}: the previous line's phonemes run until "
                "then"
            )
        if count < len(ids):
            warnings.append(
                f"LRC line {line.lineno} cut at the song's end ({end}): {max(count, 0)} of its {len(ids)} tokens fit"
            )
        if count > 0:
            row[start : start + count] = torch.tensor(ids[:count], dtype=torch.long)
        last_end = start + max(count, 0)
    return TokenRow(tokens=row, end_frame=end_frame, warnings=warnings)
