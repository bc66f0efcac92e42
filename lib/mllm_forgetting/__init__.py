"""mllm-forgetting: visual knowledge forgetting in MLLM instruction tuning, and MDGD."""

from .numerics import cap_cpu_kernels

cap_cpu_kernels()  # before torch computes anything: CPU results identical across x86-64 machines

__version__ = "0.1.0"
