"""A lyrics file is read like every other file a person wrote (runner.textfile): UTF-8, or UTF-16 with the
byte-order mark Windows Notepad writes for "Unicode"; anything else is refused naming the byte's line."""

from __future__ import annotations

import pytest

from runner.errors import BadInput
from runner.request_files import lyrics_file_text

LRC = "[00:01.00] 你好, café\n[00:03.50] second line\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])  # utf-16: Python writes the BOM
def test_utf8_and_notepad_unicode_lyrics_read_the_same(tmp_path, encoding):
    path = tmp_path / "song.lrc"
    path.write_bytes(LRC.encode(encoding))
    assert lyrics_file_text(path) == LRC


def test_a_windows_1252_lyrics_file_is_refused_naming_its_line(tmp_path):
    path = tmp_path / "song.lrc"
    path.write_bytes("[00:01.00] hello\n[00:02.00] caf\xe9\n".encode("cp1252"))
    with pytest.raises(BadInput) as caught:
        lyrics_file_text(path)
    assert f"lyrics file {path}: not UTF-8 text: byte 0xe9 at offset 31 (line 2, column 15)" in caught.value.message
    assert "iconv -f cp1252" in caught.value.message
