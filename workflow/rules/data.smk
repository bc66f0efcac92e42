rule prepare_data:
    output:
        directory(config["data"]["dir"]),
    params:
        tasks=config["data"]["pretrain_tasks"] + config["data"]["target_tasks"],
        sizes=as_json(config["data"]["sizes"]),
        seed=config["data"]["seed"],
        image_size=config["data"]["image_size"],
    log:
        RESULTS + "/logs/prepare_data.log",
    benchmark:
        RESULTS + "/benchmarks/prepare_data.tsv"
    conda:
        ENV
    shell:
        "python {SCRIPTS}/prepare_data.py --out {output} --tasks {params.tasks} --sizes {params.sizes}"
        " --seed {params.seed} --image-size {params.image_size} > {log} 2>&1"
