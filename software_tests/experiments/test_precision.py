"""The precision policy follows the hardware: bfloat16 only where it is native."""

import pytest

from flarekit.experiments import precision

AVX2_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme de pse sse sse2 avx avx2 fma bmi2
"""
SAPPHIRE_RAPIDS_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile
"""


def _auto(cpuinfo, tmp_path, tpus=0, gpus=()):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    flags = precision.cpu_flags(path)
    return precision.choose_policy("auto", flags=flags, tpus=tpus, gpus=list(gpus),
                                   onednn_isa="")


def test_avx2_cpu_without_native_bfloat16_gets_float32(tmp_path):
    policy, reason = _auto(AVX2_CPUINFO, tmp_path)
    assert policy == "float32"
    assert "no native bfloat16" in reason


def test_cpu_with_avx512_bf16_or_amx_gets_mixed_bfloat16(tmp_path):
    policy, reason = _auto(SAPPHIRE_RAPIDS_CPUINFO, tmp_path)
    assert policy == "mixed_bfloat16"
    assert "amx_bf16" in reason and "avx512_bf16" in reason


def test_accelerators_decide_before_the_cpu(tmp_path):
    assert _auto(AVX2_CPUINFO, tmp_path, tpus=8)[0] == "mixed_bfloat16"
    assert _auto(AVX2_CPUINFO, tmp_path, gpus=[(9, 0)])[0] == "mixed_bfloat16"
    # A Turing or Volta GPU: fast float16, no bfloat16.
    assert _auto(AVX2_CPUINFO, tmp_path, gpus=[(7, 5)])[0] == "mixed_float16"


def test_explicit_setting_wins_over_the_hardware(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(AVX2_CPUINFO)
    flags = precision.cpu_flags(path)
    assert precision.choose_policy("mixed_bfloat16", flags=flags, tpus=0, gpus=[]) == (
        "mixed_bfloat16",
        "set explicitly in the config",
    )
    with pytest.raises(ValueError, match="'half'"):
        precision.choose_policy("half", flags=flags, tpus=0, gpus=[])


def test_missing_cpuinfo_means_no_native_bfloat16(tmp_path):
    assert precision.cpu_flags(tmp_path / "absent") == set()


@pytest.mark.parametrize(("isa", "policy"), [
    ("AVX2", "float32"), ("avx512_core", "float32"), ("AVX512_CORE_BF16", "mixed_bfloat16"),
    ("AVX512_CORE_AMX", "mixed_bfloat16"), ("", "mixed_bfloat16")])
def test_a_onednn_isa_cap_below_bfloat16_means_float32(tmp_path, monkeypatch, isa, policy):
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS_CPUINFO)
    flags = precision.cpu_flags(path)
    found, reason = precision.choose_policy("auto", flags=flags, tpus=0, gpus=[], onednn_isa=isa)
    assert found == policy
    if policy == "float32":
        assert "ONEDNN_MAX_CPU_ISA" in reason
    # Read from the environment when not given.
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    assert precision.choose_policy("auto", flags=flags, tpus=0, gpus=[])[0] == policy
