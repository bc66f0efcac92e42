rule prepare_data:
    output:
        directory(config["data"]["dir"]),
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    conda:
        ENV
    params:
        script=script_path("prepare_data.py"),
        source=config["data"].get("source", "generated"),
        tasks=config["data"]["pretrain_tasks"] + config["data"]["target_tasks"],
        sizes=as_json(config["data"]["sizes"]),
        seed=config["data"]["seed"],
        image_size=config["data"].get("image_size", 32),
    shell:
        "python {params.script} --source {params.source} --out {output} --tasks {params.tasks} --sizes {params.sizes}"
        " --seed {params.seed} --image-size {params.image_size} > {log} 2>&1"


# Hub datasets are downloaded: on the submitting host, which has the network compute nodes may lack.
if config["data"].get("source", "generated") == "hub":

    localrules:
        prepare_data,
