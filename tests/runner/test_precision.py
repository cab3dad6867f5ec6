"""The dtype policy: never float16 on a CPU; bf16 only where the CPU has it natively."""

from pathlib import Path

import pytest

from runner.precision import choose_dtype, cpu_flags

BF16 = frozenset({"sse2", "avx512f", "avx512_bf16"})
AMX = frozenset({"amx_tile", "amx_bf16"})
PLAIN = frozenset({"sse2", "avx2"})


@pytest.mark.parametrize(
    "device, asked, flags, cuda_bf16, expected, warns",
    [
        ("cpu", "auto", BF16, False, "float32", False),  # avx512_bf16 without AMX: measured slower
        ("cpu", "auto", AMX, False, "bfloat16", False),
        ("cpu", "auto", PLAIN, False, "float32", False),
        ("cpu", "float16", PLAIN, False, "float32", True),
        ("cpu", "float16", BF16, False, "float32", True),
        ("cpu", "float16", AMX, False, "bfloat16", True),
        ("cpu", "float32", BF16, False, "float32", False),
        ("cpu", "bfloat16", BF16, False, "bfloat16", False),
        ("cpu", "bfloat16", PLAIN, False, "bfloat16", True),
        ("cuda", "auto", PLAIN, True, "float16", False),
        ("cuda", "float16", PLAIN, True, "float16", False),
        ("cuda", "bfloat16", PLAIN, True, "bfloat16", False),
        ("cuda", "bfloat16", PLAIN, False, "float16", True),
        ("cuda", "float32", PLAIN, False, "float32", False),
    ],
)
def test_policy(device, asked, flags, cuda_bf16, expected, warns):
    choice = choose_dtype(device, asked, flags, cuda_bf16)
    assert choice.dtype == expected
    assert (choice.warning is not None) == warns


@pytest.mark.parametrize("asked", ["auto", "float16", "float32", "bfloat16"])
@pytest.mark.parametrize("flags", [BF16, AMX, PLAIN, frozenset()])
def test_never_float16_on_cpu(asked, flags):
    assert choose_dtype("cpu", asked, flags).dtype != "float16"


def test_float16_refusal_says_why():
    warning = choose_dtype("cpu", "float16", PLAIN).warning
    assert "float16" in warning and "slower" in warning and "float32" in warning


def test_cpu_flags_reads_cpuinfo(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert "avx512_bf16" in cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == frozenset()
