"""Errors a pipeline step ends with on purpose (cli.run turns them into one line). Imports no torch."""


class Preempted(RuntimeError):
    """The scheduler asked the job to stop (SIGTERM at a time limit or pre-emption); its state is saved."""


class NonFiniteLossError(RuntimeError):
    """The task loss turned NaN or infinite: the cell stops instead of training on garbage."""
