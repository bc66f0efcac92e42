rule train:
    input:
        data=config["data"]["dir"],
        pretrained=RESULTS + "/checkpoints/{backbone}",
        tracking=RESULTS + "/mlflow.ready",
    output:
        summary=CELL + "/train.json",
        log_csv=CELL + "/train_log.csv",
    params:
        backbone=lambda w: as_json(config["backbones"][w.backbone]),
        method=lambda w: as_json(config["methods"][w.method]),
        training=as_json(config["training"]),
        layer=config["evaluation"]["representation_layer"],
        out=lambda w, output: str(Path(output.summary).parent),
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        RESULTS + "/logs/train/{backbone}/{target}/{method}/seed{seed}.log",
    benchmark:
        RESULTS + "/benchmarks/train/{backbone}/{target}/{method}/seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python {SCRIPTS}/train.py --backbone {wildcards.backbone} --target {wildcards.target}"
        " --method {wildcards.method} --seed {wildcards.seed} --data {input.data}"
        " --pretrained {input.pretrained} --out {params.out} --backbone-config {params.backbone}"
        " --method-config {params.method} --training {params.training} --layer {params.layer}"
        " --results {RESULTS} --threads {threads} > {log} 2>&1"
