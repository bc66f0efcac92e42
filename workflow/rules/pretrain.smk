rule pretrain:
    input:
        data=config["data"]["dir"],
    output:
        directory(RESULTS + "/checkpoints/{backbone}"),
    params:
        backbone=lambda w: as_json(config["backbones"][w.backbone]),
        tasks=config["data"]["pretrain_tasks"],
        seed=config["seeds"][0],
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        RESULTS + "/logs/pretrain/{backbone}.log",
    benchmark:
        RESULTS + "/benchmarks/pretrain/{backbone}.tsv"
    conda:
        ENV
    shell:
        "python {SCRIPTS}/pretrain.py --backbone {wildcards.backbone} --backbone-config {params.backbone}"
        " --data {input.data} --tasks {params.tasks} --out {output} --seed {params.seed}"
        " --threads {threads} > {log} 2>&1"
