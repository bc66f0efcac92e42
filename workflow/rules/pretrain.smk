# phi, the pre-trained model every cell starts from: built and pre-trained here for a built backbone,
# downloaded for a hub backbone. Both write a save_pretrained directory under results/checkpoints/.
rule pretrain:
    input:
        data=CONFIG.data.dir,
    output:
        directory(f"{RESULTS}/checkpoints/{{backbone}}"),
    log:
        f"{RESULTS}/logs/pretrain/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain/{{backbone}}.tsv"
    wildcard_constraints:
        backbone=one_of(BUILT_BACKBONES),
    conda:
        ENV
    threads: CONFIG.threads
    resources:
        mem_mb=8000,
        runtime=120,
        checkpoint_every=CONFIG.checkpoint_every,  # not a param: changes no result
    params:
        script=script("pretrain.py"),
        spec=lambda w: quoted(pretrain_spec(CONFIG, w.backbone)),
        # outside the output directory, which Snakemake deletes when the job fails
        state=lambda w: f"{RESULTS}/pretrain_state/{w.backbone}",
    shell:
        "{params.script}"
        " --spec {params.spec} --data {input.data} --out {output} --state-dir {params.state}"
        " --threads {threads} --checkpoint-every {resources.checkpoint_every} > {log} 2>&1"


# Compute nodes of many clusters have no internet: downloads run on the submitting host.
localrules:
    fetch_backbone,


rule fetch_backbone:
    output:
        directory(f"{RESULTS}/checkpoints/{{backbone}}"),
    log:
        f"{RESULTS}/logs/fetch_backbone/{{backbone}}.log",
    wildcard_constraints:
        backbone=one_of(HUB_BACKBONES),
    conda:
        ENV
    params:
        script=script("fetch_backbone.py"),
        hub_id=lambda w: CONFIG.backbones[w.backbone].hub_id,
        revision=lambda w: CONFIG.backbones[w.backbone].revision,
    shell:
        "{params.script}" " --hub-id {params.hub_id} --revision {params.revision} --out {output} > {log} 2>&1"
