rule prepare_data:
    output:
        directory(config["data"]["dir"]),
    params:
        script=script_path("prepare_data.py"),
        tasks=config["data"]["pretrain_tasks"] + config["data"]["target_tasks"],
        sizes=as_json(config["data"]["sizes"]),
        seed=config["data"]["seed"],
        image_size=config["data"]["image_size"],
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    conda:
        ENV
    shell:
        "python {params.script} --out {output} --tasks {params.tasks} --sizes {params.sizes}"
        " --seed {params.seed} --image-size {params.image_size} > {log} 2>&1"
