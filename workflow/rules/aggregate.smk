rule aggregate:
    input:
        metrics=lambda w: [c + "/metrics.json" for c in cells(w.backbone, w.target)],
    output:
        csv=RESULTS + "/tables/{backbone}_{target}.csv",
        md=report(RESULTS + "/tables/{backbone}_{target}.md", category="Tables", subcategory="{backbone}",
                  caption="../report/table.rst"),
        figures=report(
            expand(RESULTS + "/figures/{{backbone}}_{{target}}_{figure}.png", figure=FIGURES),
            category="Figures", subcategory="{backbone} / {target}", caption="../report/figure.rst"),
    params:
        cells=lambda w: cells(w.backbone, w.target),
        order=list(config["methods"]),
    log:
        RESULTS + "/logs/aggregate/{backbone}_{target}.log",
    conda:
        ENV
    shell:
        "python {SCRIPTS}/aggregate.py --backbone {wildcards.backbone} --target {wildcards.target}"
        " --cells {params.cells} --order {params.order} --tables {RESULTS}/tables"
        " --figures {RESULTS}/figures > {log} 2>&1"
