"""The same bits on every x86-64 CPU: torch's, MKL's and oneDNN's CPU kernels capped at AVX2.

These libraries pick their kernels by the CPU's instruction set (AVX-512 where there is one), and
kernels of different vector widths add in different orders. The smoke run on an AVX-512 machine gave
pooled effective ranks up to 3.7% away from those of an AVX2 machine, and one score differed; with the
cap the two agree to the last bit. The variables are read when the libraries first compute, so the
package sets them on import, before any tensor exists; one already set is left as it is, and
MLLMF_NATIVE_CPU_KERNELS=1 leaves all three to the libraries (faster on some CPUs, not reproducible
across them). GPU kernels are not affected.
"""

from __future__ import annotations

import os
import platform

CPU_KERNEL_CAP = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
OPT_OUT = "MLLMF_NATIVE_CPU_KERNELS"


def cap_cpu_kernels(environ=os.environ, machine: str | None = None) -> dict[str, str]:
    """Set the kernel cap in `environ` where it applies; return what was set."""
    machine = (machine or platform.machine()).lower()
    if environ.get(OPT_OUT, "") not in ("", "0") or machine not in ("x86_64", "amd64"):
        return {}
    added = {k: v for k, v in CPU_KERNEL_CAP.items() if k not in environ}
    environ.update(added)
    return added
