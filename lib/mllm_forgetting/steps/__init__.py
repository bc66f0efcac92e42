"""The pipeline's steps, one function each; scripts/ wraps them as command lines and Snakemake rules call those."""
