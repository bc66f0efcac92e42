# MLflow's SQLite schema creation races when parallel cells create a fresh store; create it once here.
rule init_tracking:
    output:
        RESULTS + "/mlflow.ready",
    params:
        experiment=config["mlflow"]["experiment"],
    log:
        RESULTS + "/logs/init_tracking.log",
    conda:
        ENV
    shell:
        "python {SCRIPTS}/init_tracking.py --results {RESULTS} --experiment {params.experiment}"
        " --marker {output} > {log} 2>&1"
