"""The pipeline's steps, one function each; scripts/ wraps them as command lines, which the rules call."""
