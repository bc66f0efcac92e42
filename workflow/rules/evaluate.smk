rule evaluate:
    input:
        data=config["data"]["dir"],
        summary="results/cells/{backbone}/{target}/{method}/seed{seed}/train.json",
        tracking="results/mlflow.ready",
    output:
        metrics="results/cells/{backbone}/{target}/{method}/seed{seed}/metrics.json",
        representations="results/cells/{backbone}/{target}/{method}/seed{seed}/representations.npz",
    log:
        "results/logs/evaluate/{backbone}/{target}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/{backbone}/{target}/{method}/seed{seed}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads", config["threads"])
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb", 8000),
        runtime=lambda w: resource(w.backbone, "runtime", 60),
        gpu=lambda w: resource(w.backbone, "gpu", 0),
    params:
        script=script_path("evaluate.py"),
        results=lambda w, input: str(Path(input.tracking).parent),
        backbone=lambda w: as_json(BACKBONES[w.backbone]),
        evaluation=as_json(config["evaluation"]),
        tasks=lambda w: pretrain_tasks_of(w.backbone),
        out=lambda w, output: str(Path(output.metrics).parent),
    shell:
        "python {params.script} --backbone {wildcards.backbone} --target {wildcards.target}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {input.data}"
        " --train-json {input.summary} --out {params.out} --backbone-config {params.backbone}"
        " --evaluation {params.evaluation} --pretrain-tasks {params.tasks} --results {params.results}"
        " --threads {threads} > {log} 2>&1"
