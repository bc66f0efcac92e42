rule aggregate:
    input:
        metrics=lambda w: cell_files(w.backbone, w.target, "metrics.json"),
        representations=lambda w: cell_files(w.backbone, w.target, "representations.npz"),
        logs=lambda w: cell_files(w.backbone, w.target, "train_log.csv"),
    output:
        csv=f"{RESULTS}/tables/{{backbone}}_{{target}}.csv",
        comparisons=f"{RESULTS}/tables/{{backbone}}_{{target}}_comparisons.csv",
        knowledge=f"{RESULTS}/tables/{{backbone}}_{{target}}_knowledge.csv",
        md=report(
            f"{RESULTS}/tables/{{backbone}}_{{target}}.md",
            category="Tables",
            subcategory="{backbone}",
            caption="../report/table.rst",
        ),
        figures=report(
            expand(
                "{results}/figures/{{backbone}}_{{target}}_{figure}.png", results=RESULTS, figure=FIGURES
            ),
            category="Figures",
            subcategory="{backbone} / {target}",
            caption="../report/figure.rst",
        ),
    log:
        f"{RESULTS}/logs/aggregate/{{backbone}}_{{target}}.log",
    conda:
        ENV
    params:
        script=script("aggregate.py"),
        cells=lambda w, input: [str(Path(m).parent) for m in input.metrics],
        order=list(CONFIG.methods),
        tables=lambda w, output: str(Path(output.csv).parent),
        figures=lambda w, output: str(Path(output.figures[0]).parent),
    shell:
        "{params.script} --backbone {wildcards.backbone} --target {wildcards.target}"
        " --cells {params.cells} --order {params.order} --tables {params.tables} --figures {params.figures}"
        " > {log} 2>&1"
