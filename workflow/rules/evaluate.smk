# Score one cell on every pre-trained task and its target, with effective ranks, probes, representations
# and every answer (predictions.jsonl, for rescoring).
rule evaluate:
    input:
        data=CONFIG.data.dir,
        pretrained=f"{RESULTS}/checkpoints/{{backbone}}",
        model=f"{CELL}/model",
        summary=f"{CELL}/train.json",
        tracking=f"{RESULTS}/mlflow.ready",
    output:
        metrics=f"{CELL}/metrics.json",
        representations=f"{CELL}/representations.npz",
        predictions=f"{CELL}/predictions.jsonl",
    log:
        f"{RESULTS}/logs/evaluate/{{backbone}}/{{target}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{backbone}}/{{target}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads")
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb"),
        runtime=lambda w: resource(w.backbone, "runtime"),
        gpu=lambda w: resource(w.backbone, "gpu"),
    params:
        script=script("evaluate.py"),
        results=lambda w, input: str(Path(input.tracking).parent),  # where the MLflow store is
        spec=lambda w: quoted(evaluate_spec(CONFIG, cell_of(w))),
        out=lambda w, output: str(Path(output.metrics).parent),
    shell:
        "{params.script} --spec {params.spec} --data {input.data} --pretrained {input.pretrained}"
        " --model {input.model} --train-json {input.summary} --out {params.out} --results {params.results}"
        " --threads {threads} > {log} 2>&1"
