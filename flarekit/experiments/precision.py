"""Which precision a run computes in: a question of hardware, not of taste.

Mixed bfloat16 pays only where the hardware multiplies bfloat16 natively: a
TPU, a GPU of compute capability 8.0 or later (Ampere, Hopper), or a CPU
with AVX512_BF16 or AMX. Elsewhere Keras and oneDNN emulate it, and on an
AVX2-only CPU a training step runs 10-16x *slower* than in float32
(reported in issue 12 from a 2-core AMD EPYC without avx512 flags: 12-16 s
against 0.9-1.3 s a step of the unbinned demo CNN; not re-measured here, as
no such CPU was available). Older CUDA GPUs have fast float16 but no bfloat16.

`mixed_precision = "auto"` (the default of every starter) picks:

| hardware | policy |
|---|---|
| TPU | mixed_bfloat16 |
| GPU, compute capability >= 8.0 | mixed_bfloat16 |
| other CUDA GPU | mixed_float16 |
| CPU with avx512_bf16 or amx_bf16 | mixed_bfloat16 |
| any other CPU | float32 |

An explicit policy ("float32", "mixed_bfloat16", "mixed_float16") is used as
given. The run's config.json and report.md state the policy and why.

`ONEDNN_MAX_CPU_ISA` (oneDNN's cap on the instruction sets it uses, set by
users for reproducible numerics across machines, or to see how a run fares on
an older CPU) counts too: capped below bfloat16 instructions ("AVX2",
"AVX512_CORE", ...), TensorFlow cannot use them, and "auto" picks float32.
"""

from __future__ import annotations

import os
from pathlib import Path

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Values of ONEDNN_MAX_CPU_ISA that leave oneDNN without bfloat16 instructions.
ONEDNN_ISAS_WITHOUT_BF16 = (
    "SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The flags of the first CPU in /proc/cpuinfo (an empty set where there is
    no such file, e.g. macOS: no native bfloat16 is assumed there)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def _accelerators():
    """(number of TPU devices, [GPU compute capabilities, (major, minor) or None])."""
    import tensorflow as tf

    tpus = len(tf.config.list_logical_devices("TPU"))
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu) or {}
        capabilities.append(details.get("compute_capability"))
    return tpus, capabilities


def choose_policy(
    setting: str = "auto", flags=None, tpus: int | None = None, gpus=None,
    onednn_isa: str | None = None,
) -> tuple[str, str]:
    """The Keras dtype policy for config value `setting`, and why.

    Args:
        setting: "auto", or an explicit policy name.
        flags: the CPU's flags (default: read /proc/cpuinfo).
        tpus, gpus: number of TPU devices and the GPUs' compute capabilities
            (default: asked from TensorFlow).
        onednn_isa: oneDNN's instruction-set cap (default: the
            ONEDNN_MAX_CPU_ISA environment variable; "" for none).

    Returns:
        (policy name, reason), e.g. ("float32", "auto: CPU has no native
        bfloat16 (no avx512_bf16 or amx_bf16 flag)").

    Raises:
        ValueError: an unknown setting.

    Example:
        >>> choose_policy("auto", flags={"avx2"}, tpus=0, gpus=[])[0]
        'float32'
    """
    if setting in ("float32", "mixed_bfloat16", "mixed_float16"):
        return setting, "set explicitly in the config"
    if setting != "auto":
        raise ValueError(
            f"mixed_precision is {setting!r}; expected 'auto', 'float32', "
            "'mixed_bfloat16' or 'mixed_float16'."
        )
    if tpus is None or gpus is None:
        found_tpus, found_gpus = _accelerators()
        tpus = found_tpus if tpus is None else tpus
        gpus = found_gpus if gpus is None else gpus
    if tpus:
        return "mixed_bfloat16", "auto: TPU computes bfloat16 natively"
    if gpus:
        known = [c for c in gpus if c]
        if known and all(tuple(c) >= (8, 0) for c in known):
            return "mixed_bfloat16", (
                f"auto: GPU compute capability {'.'.join(map(str, known[0]))} "
                "computes bfloat16 natively"
            )
        return "mixed_float16", "auto: CUDA GPU without native bfloat16"
    flags = cpu_flags() if flags is None else set(flags)
    native = sorted(flags & set(NATIVE_BF16_CPU_FLAGS))
    if onednn_isa is None:
        onednn_isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    if native and onednn_isa.strip().upper() in ONEDNN_ISAS_WITHOUT_BF16:
        return "float32", (
            f"auto: ONEDNN_MAX_CPU_ISA={onednn_isa.strip()} keeps oneDNN off this CPU's "
            f"bfloat16 instructions ({', '.join(native)}); emulated bfloat16 would be "
            "10-16x slower"
        )
    if native:
        return (
            "mixed_bfloat16",
            f"auto: CPU computes bfloat16 natively ({', '.join(native)})",
        )
    return "float32", (
        "auto: CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag); "
        "emulated bfloat16 would be 10-16x slower"
    )


def apply_policy(setting: str = "auto") -> tuple[str, str]:
    """Choose (`choose_policy`) and set Keras' global dtype policy; returns
    (policy, reason)."""
    import keras

    policy, reason = choose_policy(setting)
    keras.mixed_precision.set_global_policy(policy)
    return policy, reason
