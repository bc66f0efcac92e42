"""The CPU kernel cap that makes CPU runs bitwise reproducible across x86-64 machines."""

import subprocess
import sys

import pytest
from mllm_forgetting.numerics import CPU_KERNEL_CAP, OPT_OUT, cap_cpu_kernels


def test_the_cap_fills_only_unset_variables_on_x86():
    env = {"MKL_CBWR": "COMPATIBLE"}
    added = cap_cpu_kernels(env, machine="x86_64")
    assert env["MKL_CBWR"] == "COMPATIBLE"  # a user's own setting stays
    assert added == {k: v for k, v in CPU_KERNEL_CAP.items() if k != "MKL_CBWR"}
    assert env["ATEN_CPU_CAPABILITY"] == "avx2"


@pytest.mark.parametrize("env, machine", [({OPT_OUT: "1"}, "x86_64"), ({}, "aarch64")])
def test_no_cap_when_opted_out_or_not_x86(env, machine):
    before = dict(env)
    assert cap_cpu_kernels(env, machine=machine) == {}
    assert env == before


def test_importing_the_package_caps_torch_even_when_torch_was_imported_first():
    import platform

    code = "import torch, mllm_forgetting; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the cap applies to x86-64 only")
    assert out.strip() in ("AVX2", "DEFAULT")  # DEFAULT: a CPU without AVX2 never goes above it
