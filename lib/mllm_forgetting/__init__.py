"""mllm-forgetting: visual knowledge forgetting in MLLM instruction tuning, and MDGD."""

__version__ = "0.1.0"
