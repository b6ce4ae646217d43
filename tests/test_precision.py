"""precision="auto": bf16 where the CPU computes it natively (AVX512-BF16 or AMX), fp32 where it is emulated."""

import torch

from nst_core.features import FeatureExtractor, cpu_flags, native_bf16_cpu, uses_bf16

from .conftest import tiny_backbone

CPU = torch.device("cpu")
AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512_NO_BF16 = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_vnni"}


def test_native_bf16_is_read_from_the_cpu_flags():
    assert not native_bf16_cpu(AVX2_ONLY) and not native_bf16_cpu(AVX512_NO_BF16)
    assert native_bf16_cpu(AVX512_NO_BF16 | {"avx512_bf16"})  # e.g. AMD Zen 4, Intel Cooper Lake
    assert native_bf16_cpu(AVX512_NO_BF16 | {"amx_bf16", "amx_tile"})  # Intel Sapphire Rapids and later


def test_auto_picks_bf16_only_on_a_native_bf16_cpu():
    assert uses_bf16("auto", CPU, flags=AVX512_NO_BF16 | {"avx512_bf16"})
    assert not uses_bf16("auto", CPU, flags=AVX2_ONLY)
    assert uses_bf16("bf16", CPU, flags=AVX2_ONLY) and not uses_bf16("fp32", CPU, flags=AVX512_NO_BF16 | {"amx_bf16"})
    assert uses_bf16("auto", torch.device("cuda"), flags=frozenset())  # Tensor Cores: always


def test_flags_come_from_proc_cpuinfo(tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\n"
                    "processor\t: 1\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert cpu_flags(str(fake)) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()  # macOS, Windows: no file, so fp32


def test_auto_on_this_machine_follows_its_flags():
    """On the AVX2-only CI machine (bf16 ~30x slower than fp32 there) auto must stay fp32; on a CPU with
    native bf16 it must use it."""
    extractor = FeatureExtractor(tiny_backbone(), CPU, "auto")
    assert extractor.bf16 == native_bf16_cpu()
    if not {"avx512_bf16", "amx_bf16"} & cpu_flags():
        assert not extractor.bf16
