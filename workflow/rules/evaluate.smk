rule evaluate:
    input:
        data=config["data"]["dir"],
        summary=CELL + "/train.json",
    output:
        metrics=CELL + "/metrics.json",
        representations=CELL + "/representations.npz",
    params:
        backbone=lambda w: as_json(config["backbones"][w.backbone]),
        evaluation=as_json(config["evaluation"]),
        tasks=config["data"]["pretrain_tasks"],
        out=lambda w, output: str(Path(output.metrics).parent),
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        RESULTS + "/logs/evaluate/{backbone}/{target}/{method}/seed{seed}.log",
    benchmark:
        RESULTS + "/benchmarks/evaluate/{backbone}/{target}/{method}/seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python {SCRIPTS}/evaluate.py --backbone {wildcards.backbone} --target {wildcards.target}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {input.data}"
        " --train-json {input.summary} --out {params.out} --backbone-config {params.backbone}"
        " --evaluation {params.evaluation} --pretrain-tasks {params.tasks} --results {RESULTS}"
        " --threads {threads} > {log} 2>&1"
