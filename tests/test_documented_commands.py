"""Every `snakemake` command in README.md and docs/ runs as printed (as a dry run: `-n` added where it is
not there) and plans the jobs its target needs: Snakemake 9's `--configfile` and `--forcerun` take several
values and would swallow a target written after them."""

import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, SMOKE_RESULTS, copy_workflow, evaluate_spec_for, snakemake

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config/README.md"]


def documented_commands() -> list[tuple[str, str]]:
    """(page, command) for each snakemake command in a page's code blocks, its trailing comment removed."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.splitlines():
                line = re.split(r"\s+#", line)[0].strip()
                for part in line.split("&&"):
                    if part.strip().startswith("snakemake "):
                        found.append((page.relative_to(REPO).as_posix(), part.strip()))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_the_commands_a_newcomer_needs():
    commands = [c for _, c in COMMANDS]
    assert "snakemake --cores 2 --forceall" in commands
    assert any("--forcerun train" in c for c in commands) and any("--profile slurm" in c for c in commands)


def planned_jobs(stdout: str) -> Counter:
    table = stdout[stdout.index("Job stats:") :].split("total")[0]
    return Counter({m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the workflow and the installed `slurm` profile (scripts/install_slurm_profile.py)."""
    root = tmp_path_factory.mktemp("documented")
    (root / "wf").mkdir()
    work = copy_workflow(root / "wf")
    home = root / "xdg"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/install_slurm_profile.py"),
            "--account",
            "a",
            "--partition",
            "p",
        ],
        env={"XDG_CONFIG_HOME": str(home), "PATH": str(Path(sys.executable).parent)},
        check=True,
        capture_output=True,
    )
    return work, home


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_a_documented_command_plans_what_its_target_needs(workdir, page, command):
    work, home = workdir
    args = shlex.split(command)[1:]
    if "-n" not in args and "--dry-run" not in args:
        args.append("-n")
    proc = snakemake(args, cwd=work, check=False, env={"XDG_CONFIG_HOME": str(home)})
    assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    jobs = planned_jobs(proc.stdout)
    targets = [a for a in args if a.startswith("results/")]
    if any(t.endswith("/metrics.json") for t in targets):  # one cell: its train and evaluate, and inputs
        assert jobs["train"] == 1 and jobs["evaluate"] == 1, jobs
        assert set(jobs) <= {
            "prepare_data",
            "pretrain",
            "fetch_backbone",
            "init_tracking",
            "train",
            "evaluate",
        }
    elif any(t.startswith("results/tables/") for t in targets):
        assert jobs["aggregate"] == 1 and "all" not in jobs, jobs
    else:
        assert jobs["all"] == 1, jobs


def test_the_missing_data_hint_run_as_printed_restores_the_data(tmp_path):
    """An error's hint is a command that fixes the state: `snakemake prepare_data` alone would answer
    "Nothing to be done" for an existing data directory that lost a task."""
    import shutil

    import yaml
    from mllm_forgetting.data.benchmark import PREPARE_HINT

    work = copy_workflow(tmp_path)
    smoke = yaml.safe_load((work / "config/smoke.yaml").read_text())
    (work / "config/config.yaml").write_text((work / "config/smoke.yaml").read_text())  # the default here
    data = work / smoke["data"]["dir"]
    snakemake(["prepare_data", "--cores", "1"], cwd=work)
    shutil.rmtree(data / "okvqa")
    unforced = snakemake(["prepare_data", "--cores", "1"], cwd=work)
    assert "Nothing to be done" in unforced.stdout + unforced.stderr  # why the hint forces the rule
    [command] = re.findall(r"`(snakemake [^`]+)`", PREPARE_HINT)
    snakemake(shlex.split(command)[1:], cwd=work)
    assert (data / "okvqa" / "train").is_dir()


def test_the_venvs_snakemake_runs_jobs_without_the_venv_activated(tmp_path):
    """`.venv/bin/snakemake` from a shell whose PATH lacks the environment: the jobs' `python` must still be
    the interpreter running Snakemake (before, every job failed with `No module named 'mllm_forgetting'`)."""
    import os

    work = copy_workflow(tmp_path)
    marker = f"{SMOKE_RESULTS}/mlflow.ready"
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/bin:/bin"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "snakemake"),
            marker,
            "--cores",
            "1",
            "--configfile",
            "config/smoke.yaml",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / marker).read_text().startswith("sqlite:///")


@pytest.mark.slow
def test_the_missing_model_hint_run_as_printed_restores_the_model(smoke_run, tmp_path, monkeypatch):
    """A cell whose model/ was deleted: before, the hint named a target with no rule. Its command, run as
    printed from the repository root (relative and absolute paths alike), makes the model again."""
    import shutil

    from mllm_forgetting.steps.evaluate import load_tuned

    work = tmp_path / "work"
    shutil.copytree(smoke_run, work, symlinks=True)
    (work / "config/config.yaml").write_text((work / "config/smoke.yaml").read_text())  # the default here
    spec = evaluate_spec_for(method="finetune", target="okvqa")
    cell = f"{SMOKE_RESULTS}/cells/tiny-llava/okvqa/finetune/seed0"
    monkeypatch.chdir(work)
    for model in (f"{cell}/model", str(work / cell / "model")):
        shutil.rmtree(work / cell / "model")
        with pytest.raises(FileNotFoundError) as err:
            load_tuned(model, f"{SMOKE_RESULTS}/checkpoints/tiny-llava", spec, "cpu")
        [command] = re.findall(r"`(snakemake [^`]+)`", str(err.value))
        proc = snakemake(shlex.split(command)[1:], cwd=work)
        assert planned_jobs(proc.stderr) == Counter(train=1), proc.stderr[-3000:]
        assert (work / cell / "model" / "config.json").exists(), command


def documented_scripts() -> list[tuple[str, str]]:
    """(page, command) for each `python scripts/...` command in a page's code blocks or inline code."""
    found = []
    for page in PAGES:
        text = page.read_text()
        blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)
        lines = [re.split(r"\s+#", line)[0] for block in blocks for line in block.splitlines()]
        inline = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))
        for line in lines + inline:
            for part in line.split("&&"):
                if re.match(r"python3? scripts/\S+\.py", part.strip()):
                    found.append((page.relative_to(REPO).as_posix(), part.strip()))
    return found


SCRIPTS = documented_scripts()


def test_the_docs_show_the_scripts_a_user_runs_by_hand():
    scripts = {shlex.split(c)[1] for _, c in SCRIPTS}
    assert {"scripts/sync_mlflow.py", "scripts/run_profile.py", "scripts/install_slurm_profile.py"} <= scripts


@pytest.fixture(scope="module")
def finished_run(smoke_run, tmp_path_factory):
    """A copy of the smoke run as the docs' commands expect it: its config the default one and its results
    in results/ (where the embedded default writes)."""
    import shutil

    import yaml

    work = tmp_path_factory.mktemp("finished") / "work"
    shutil.copytree(smoke_run, work, symlinks=True)
    config = yaml.safe_load((work / "config/smoke.yaml").read_text())
    config["results"] = "results"
    (work / "config/config.yaml").write_text(yaml.safe_dump(config))
    smoke = work / SMOKE_RESULTS
    for item in list(smoke.iterdir()):
        item.rename(work / "results" / item.name)
    smoke.rmdir()
    return work


@pytest.mark.slow
@pytest.mark.parametrize("page, command", SCRIPTS, ids=[f"{p}: {c}" for p, c in SCRIPTS])
def test_a_documented_script_runs_as_printed(finished_run, tmp_path, page, command):
    import os

    args = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # install_slurm_profile.py writes the user's profile there
    proc = subprocess.run(
        [sys.executable, *args[1:]], cwd=finished_run, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    assert proc.stdout.strip() or proc.stderr.strip(), command  # it says what it did


def documented_mlflow_ui() -> list[str]:
    """The `mlflow ui ...` commands of the pages (code blocks and inline), as printed."""
    commands = set()
    for page in PAGES:
        for found in re.findall(r"(mlflow ui [^`#\n]+)", page.read_text()):
            commands.add(found.strip())
    return sorted(commands)


@pytest.mark.slow
@pytest.mark.parametrize("command", documented_mlflow_ui())
def test_the_documented_mlflow_ui_shows_every_cell_with_its_datasets(finished_run, command):
    """The UI command as printed serves the run's store: every cell a run, each with its data as train
    and eval dataset inputs (the UI's Dataset column), in an experiment of the model-training kind."""
    import json
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 5000)) == 0:
            pytest.skip("port 5000, the UI's default, is taken on this machine")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    server = subprocess.Popen(
        shlex.split(command), cwd=finished_run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    api = "http://127.0.0.1:5000/api/2.0/mlflow"

    def call(path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{api}/{path}", data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    try:
        for _ in range(120):
            try:
                experiment = call("experiments/get-by-name?experiment_name=mllm-forgetting")["experiment"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.5)
        else:
            pytest.fail("the UI did not answer within 60 s")
        runs = call("runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 1000})
    finally:
        server.terminate()
        server.wait(timeout=30)
    tags = {t["key"]: t["value"] for t in experiment.get("tags", [])}
    assert tags.get("mlflow.experimentKind") == "custom_model_development"
    assert experiment["experiment_id"] == "1"  # the id in the documented link to the runs table
    cells = sorted((finished_run / "results/cells").glob("*/*/*/seed*/train.json"))
    names = sorted(r["info"]["run_name"] for r in runs["runs"])
    assert names == sorted(p.parent.relative_to(finished_run / "results/cells").as_posix() for p in cells)
    for run in runs["runs"]:
        inputs = run["inputs"]["dataset_inputs"]
        contexts = {
            t["value"] for i in inputs for t in i.get("tags", []) if t["key"] == "mlflow.data.context"
        }
        assert contexts == {"train", "eval"}, run["info"]["run_name"]
