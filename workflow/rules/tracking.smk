# MLflow's SQLite schema creation races when parallel cells create a fresh store; create it once here,
# on the submitting host (seconds of work: not worth a queue wait).
localrules:
    init_tracking,


rule init_tracking:
    output:
        "results/mlflow.ready",
    log:
        "results/logs/init_tracking.log",
    conda:
        ENV
    params:
        script=script_path("init_tracking.py"),
        results=lambda w, output: str(Path(output[0]).parent),
        experiment=config["mlflow"]["experiment"],
    shell:
        "python {params.script} --results {params.results} --experiment {params.experiment}"
        " --marker {output} > {log} 2>&1"
