rule pretrain:
    input:
        data=config["data"]["dir"],
    output:
        directory("results/checkpoints/{backbone}"),
    params:
        script=script_path("pretrain.py"),
        backbone=lambda w: as_json(config["backbones"][w.backbone]),
        tasks=config["data"]["pretrain_tasks"],
        seed=config["seeds"][0],
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        "results/logs/pretrain/{backbone}.log",
    benchmark:
        "results/benchmarks/pretrain/{backbone}.tsv"
    conda:
        ENV
    shell:
        "python {params.script} --backbone {wildcards.backbone} --backbone-config {params.backbone}"
        " --data {input.data} --tasks {params.tasks} --out {output} --seed {params.seed}"
        " --threads {threads} > {log} 2>&1"
