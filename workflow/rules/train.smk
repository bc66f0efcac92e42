# One tuning cell: the pre-trained backbone tuned on its target with one method (zero-shot: none).
# model/ is the tuned model (a checkpoint, a peft adapter, or a pointer to phi for zero-shot); Model Tailor
# starts from the fine-tune cell's model/ instead of training.
rule train:
    input:
        data=CONFIG.data.dir,
        pretrained=f"{RESULTS}/checkpoints/{{backbone}}",
        tracking=f"{RESULTS}/mlflow.ready",
        # Model Tailor: the fine-tune cell's model it tailors (found by the step in the results' cells/)
        base=base_model,
    output:
        summary=f"{CELL}/train.json",
        log_csv=f"{CELL}/train_log.csv",
        params=f"{CELL}/params.json",
        model=directory(f"{CELL}/model"),
    log:
        f"{RESULTS}/logs/train/{{backbone}}/{{target}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{backbone}}/{{target}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads")
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb"),
        runtime=lambda w: resource(w.backbone, "runtime"),
        gpu=lambda w: resource(w.backbone, "gpu"),
        # not a param: how often a cell checkpoints changes no result, so editing it reruns nothing
        checkpoint_every=CONFIG.checkpoint_every,
    params:
        script=script("train.py"),
        results=lambda w, input: str(Path(input.tracking).parent),  # where the MLflow store is
        spec=lambda w: quoted(train_spec(CONFIG, cell_of(w))),
        out=lambda w, output: str(Path(output.summary).parent),
    shell:
        "{params.script} --spec {params.spec} --data {input.data} --pretrained {input.pretrained}"
        " --out {params.out} --results {params.results} --threads {threads} --checkpoint-every {resources.checkpoint_every}"
        " > {log} 2>&1"
