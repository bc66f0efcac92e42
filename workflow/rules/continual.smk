# Continual instruction tuning: each sequence learnt stage by stage. Stage k of one backbone x sequence x
# method x seed trains from stage k-1's model/ and carry.pt; every stage, and the pre-trained model
# (stage 0), is scored on every task of the sequence and every pre-trained task.
STAGE = f"{RESULTS}/continual/{{backbone}}/{{sequence}}/{{smethod}}/seed{{seed}}/stage{{index}}_{{task}}"
STAGE0 = f"{RESULTS}/continual/{{backbone}}/{{sequence}}/pretrained/stage0"


wildcard_constraints:
    sequence=one_of(SEQUENCES),
    smethod=one_of(SEQUENCE_METHODS),
    task=one_of(sorted({t for tasks in SEQUENCES.values() for t in tasks})),
    index=r"[1-9]\d*",


rule train_stage:
    input:
        data=CONFIG.data.dir,
        pretrained=f"{RESULTS}/checkpoints/{{backbone}}",
        tracking=f"{RESULTS}/mlflow.ready",
        previous=previous_stage,  # stage k-1's model/ and carry.pt (none at stage 1)
    output:
        summary=f"{STAGE}/train.json",
        log_csv=f"{STAGE}/train_log.csv",
        params=f"{STAGE}/params.json",
        carry=f"{STAGE}/carry.pt",
        model=directory(f"{STAGE}/model"),
    log:
        f"{RESULTS}/logs/train_stage/{{backbone}}/{{sequence}}/{{smethod}}/seed{{seed}}/stage{{index}}_{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_stage/{{backbone}}/{{sequence}}/{{smethod}}/seed{{seed}}/stage{{index}}_{{task}}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads")
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb"),
        runtime=lambda w: resource(w.backbone, "runtime"),
        gpu=lambda w: resource(w.backbone, "gpu"),
        checkpoint_every=CONFIG.checkpoint_every,  # not a param: changes no result
    params:
        script=script("train_stage.py"),
        results=lambda w, input: str(Path(input.tracking).parent),
        spec=lambda w: quoted(stage_train_spec(CONFIG, stage_of(w))),
        previous=lambda w, input: (
            f"--previous {shlex.quote(str(Path(input.previous[0]).parent))}" if input.previous else ""
        ),
        out=lambda w, output: str(Path(output.summary).parent),
    shell:
        "{params.script} --spec {params.spec} --data {input.data} --pretrained {input.pretrained}"
        " {params.previous} --out {params.out} --results {params.results} --threads {threads}"
        " --checkpoint-every {resources.checkpoint_every} > {log} 2>&1"


rule evaluate_stage:
    input:
        data=CONFIG.data.dir,
        pretrained=f"{RESULTS}/checkpoints/{{backbone}}",
        model=f"{STAGE}/model",
        summary=f"{STAGE}/train.json",
        tracking=f"{RESULTS}/mlflow.ready",
    output:
        metrics=f"{STAGE}/metrics.json",
        representations=f"{STAGE}/representations.npz",
        predictions=f"{STAGE}/predictions.jsonl",
    log:
        f"{RESULTS}/logs/evaluate_stage/{{backbone}}/{{sequence}}/{{smethod}}/seed{{seed}}/stage{{index}}_{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_stage/{{backbone}}/{{sequence}}/{{smethod}}/seed{{seed}}/stage{{index}}_{{task}}.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads")
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb"),
        runtime=lambda w: resource(w.backbone, "runtime"),
        gpu=lambda w: resource(w.backbone, "gpu"),
    params:
        script=script("evaluate.py"),
        results=lambda w, input: str(Path(input.tracking).parent),
        spec=lambda w: quoted(stage_evaluate_spec(CONFIG, stage_of(w))),
        out=lambda w, output: str(Path(output.metrics).parent),
    shell:
        "{params.script} --spec {params.spec} --data {input.data} --pretrained {input.pretrained}"
        " --model {input.model} --train-json {input.summary} --out {params.out} --results {params.results}"
        " --threads {threads} > {log} 2>&1"


# Row 0 of the accuracy matrix: the pre-trained model on the sequence's tasks (no run of its own in MLflow).
rule evaluate_stage0:
    input:
        data=CONFIG.data.dir,
        pretrained=f"{RESULTS}/checkpoints/{{backbone}}",
    output:
        metrics=f"{STAGE0}/metrics.json",
        representations=f"{STAGE0}/representations.npz",
        predictions=f"{STAGE0}/predictions.jsonl",
    log:
        f"{RESULTS}/logs/evaluate_stage/{{backbone}}/{{sequence}}/stage0.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_stage/{{backbone}}/{{sequence}}/stage0.tsv"
    conda:
        ENV
    threads: lambda w: resource(w.backbone, "threads")
    resources:
        mem_mb=lambda w: resource(w.backbone, "mem_mb"),
        runtime=lambda w: resource(w.backbone, "runtime"),
        gpu=lambda w: resource(w.backbone, "gpu"),
    params:
        script=script("evaluate.py"),
        spec=lambda w: quoted(stage_evaluate_spec(CONFIG, pretrained_stage(w))),
        out=lambda w, output: str(Path(output.metrics).parent),
    shell:
        "{params.script} --spec {params.spec} --data {input.data} --pretrained {input.pretrained}"
        " --model {input.pretrained} --out {params.out} --results {params.out} --threads {threads}"
        " --no-tracking > {log} 2>&1"


rule aggregate_continual:
    input:
        stage0=f"{STAGE0}/metrics.json",
        metrics=lambda w: sequence_files(w.backbone, w.sequence, "metrics.json"),
    output:
        csv=f"{RESULTS}/continual/tables/{{backbone}}_{{sequence}}.csv",
        md=report(
            f"{RESULTS}/continual/tables/{{backbone}}_{{sequence}}.md",
            category="Continual",
            subcategory="{backbone}",
            caption="../report/table.rst",
        ),
        matrices=expand(
            "{results}/continual/tables/{{backbone}}_{{sequence}}_{method}_matrix.csv",
            results=RESULTS,
            method=SEQUENCE_METHODS,
        ),
        figures=report(
            expand(
                "{results}/continual/figures/{{backbone}}_{{sequence}}_{figure}.png",
                results=RESULTS,
                figure=CONTINUAL_FIGURES,
            ),
            category="Continual",
            subcategory="{backbone} / {sequence}",
            caption="../report/figure.rst",
        ),
    log:
        f"{RESULTS}/logs/aggregate_continual/{{backbone}}_{{sequence}}.log",
    conda:
        ENV
    params:
        script=script("aggregate_continual.py"),
        stages=lambda w, input: [str(Path(m).parent) for m in input.metrics],
        order=SEQUENCE_METHODS,
        tables=lambda w, output: str(Path(output.csv).parent),
        figures=lambda w, output: str(Path(output.figures[0]).parent),
    shell:
        "{params.script} --backbone {wildcards.backbone} --sequence {wildcards.sequence}"
        " --stage0 {input.stage0} --stages {params.stages} --order {params.order}"
        " --tables {params.tables} --figures {params.figures} > {log} 2>&1"
