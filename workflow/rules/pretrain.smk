# phi, the pre-trained model every cell starts from: built and pre-trained here for a built backbone,
# downloaded for a hub backbone. Both write a save_pretrained directory under results/checkpoints/.
rule pretrain:
    input:
        data=config["data"]["dir"],
    output:
        directory("results/checkpoints/{backbone}"),
    log:
        "results/logs/pretrain/{backbone}.log",
    benchmark:
        "results/benchmarks/pretrain/{backbone}.tsv"
    wildcard_constraints:
        backbone=one_of(BUILT_BACKBONES),
    conda:
        ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        checkpoint_every=config["checkpoint_every"],  # not a param: changes no result
    params:
        script=script_path("pretrain.py"),
        backbone=lambda w: as_json(BACKBONES[w.backbone]),
        tasks=lambda w: pretrain_tasks_of(w.backbone),
        seed=config["seeds"][0],
        # outside the output directory, which Snakemake deletes when the job fails
        state=lambda w: f"results/pretrain_state/{w.backbone}",
    shell:
        "python {params.script} --backbone {wildcards.backbone} --backbone-config {params.backbone}"
        " --data {input.data} --tasks {params.tasks} --out {output} --seed {params.seed}"
        " --threads {threads} --state-dir {params.state} --checkpoint-every {resources.checkpoint_every} > {log} 2>&1"


# Compute nodes of many clusters have no internet: downloads run on the submitting host.
localrules:
    fetch_backbone,


rule fetch_backbone:
    output:
        directory("results/checkpoints/{backbone}"),
    log:
        "results/logs/fetch_backbone/{backbone}.log",
    wildcard_constraints:
        backbone=one_of(HUB_BACKBONES),
    conda:
        ENV
    params:
        script=script_path("fetch_backbone.py"),
        hub_id=lambda w: BACKBONES[w.backbone]["hub_id"],
        revision=lambda w: BACKBONES[w.backbone].get("revision", "main"),
    shell:
        "python {params.script} --hub-id {params.hub_id} --revision {params.revision} --out {output} > {log} 2>&1"
