rule train:
    input:
        data=config["data"]["dir"],
        pretrained="results/checkpoints/{backbone}",
        tracking="results/mlflow.ready",
    output:
        summary="results/cells/{backbone}/{target}/{method}/seed{seed}/train.json",
        log_csv="results/cells/{backbone}/{target}/{method}/seed{seed}/train_log.csv",
    log:
        "results/logs/train/{backbone}/{target}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{backbone}/{target}/{method}/seed{seed}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads", config["threads"])
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb", 8000),
        runtime=lambda w: resource(w.backbone, "runtime", 120),
        gpu=lambda w: resource(w.backbone, "gpu", 0),
        # not a param: how often a cell checkpoints changes no result, so editing it reruns nothing
        checkpoint_every=config["checkpoint_every"],
    params:
        script=script_path("train.py"),
        results=lambda w, input: str(Path(input.tracking).parent),
        experiment=config["mlflow"]["experiment"],
        backbone=lambda w: as_json(BACKBONES[w.backbone]),
        method=lambda w: as_json(config["methods"][w.method]),
        training=as_json(config["training"]),
        layer=config["evaluation"]["representation_layer"],
        out=lambda w, output: str(Path(output.summary).parent),
    shell:
        "python {params.script} --backbone {wildcards.backbone} --target {wildcards.target}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {input.data}"
        " --pretrained {input.pretrained} --out {params.out} --backbone-config {params.backbone}"
        " --method-config {params.method} --training {params.training} --layer {params.layer}"
        " --results {params.results} --experiment {params.experiment} --threads {threads}"
        " --checkpoint-every {resources.checkpoint_every} > {log} 2>&1"
