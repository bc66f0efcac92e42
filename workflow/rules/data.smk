rule prepare_data:
    output:
        directory(CONFIG.data.dir),
    log:
        f"{RESULTS}/logs/prepare_data.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_data.tsv"
    conda:
        ENV
    params:
        script=script("prepare_data.py"),
        spec=quoted(CONFIG.data),
    shell:
        "{params.script} --spec {params.spec} --out {output} > {log} 2>&1"


# Hub datasets are downloaded: on the submitting host, which has the network compute nodes may lack.
if CONFIG.data.source == "hub":

    localrules:
        prepare_data,
