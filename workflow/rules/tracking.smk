# MLflow's SQLite schema creation races when parallel cells create a fresh store; create it once here,
# on the submitting host (seconds of work: not worth a queue wait).
localrules:
    init_tracking,


rule init_tracking:
    output:
        f"{RESULTS}/mlflow.ready",
    log:
        f"{RESULTS}/logs/init_tracking.log",
    conda:
        ENV
    params:
        script=script("init_tracking.py"),
        results=lambda w, output: str(Path(output[0]).parent),
        experiment=CONFIG.mlflow.experiment,
    shell:
        "{params.script}"
        " --results {params.results} --experiment {params.experiment} --marker {output} > {log} 2>&1"
