"""`make bench-alternatives`: the serving tools users would pick instead, beside us (issue 25).

    .venv/bin/python -m bench.alternatives [--seconds 20] [--concurrency 8] [--ours results.json] [--tool NAME]

On the same committed pipeline (predictor/artifacts/huber-blend-v2.pkl, verified against its card) and
the same load generator (bench/loadgen.py, one-row requests, as bench/run.py drives our API):

- ``mlflow``: MLflow's ``mlflow models serve`` (uvicorn, 2 workers, ``--env-manager local``) on the pipeline
  saved as an MLflow scikit-learn model (pyfunc flavour) in a temporary folder; one-row ``dataframe_split``
  JSON to ``/invocations``.
- ``pycaret-api``: the app PyCaret's own ``create_api`` writes (FastAPI, ``predict_model`` per request), served
  by ``uvicorn --workers 2``; create_api itself writes it, on a stand-in for the experiment that gives it
  what it reads (the sample patient as its input example), with the committed file as the saved model.

Each runs in a virtualenv of its own under BENCH_VENVS (default .bench-venvs/), built from pinned
requirement files (bench/requirements-mlflow.txt, bench/requirements-pycaret-api.txt) and rebuilt when
they change; the pipeline's module (predictor.features) is on their PYTHONPATH. Before a tool is loaded it
must answer the sample patient's charge within $0.01 of our API's answer, or the run stops and says so.

It prints each tool's requests/s, p50 and p99, and its ratio to our API's one-row requests/s: from
bench/run.py's results of the same run (``--ours``, its ``--json`` file, as ``make bench`` passes it) or,
run alone, measured here first (the app as deployed on BENCH_DATABASE_URL, recreated, BENCH_APP_PORT).
These tools store nothing; our API stores every answer. Ports: BENCH_MLFLOW_PORT (5600) and
BENCH_PYCARET_API_PORT (5610). Exits 1 if a tool cannot be installed, started or checked.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import APP_PORT, DATABASE_URL, HOST, RECORD, ROOT, log
from bench.loadgen import build_request

ARTIFACT = ROOT / "predictor" / "artifacts" / "huber-blend-v2.pkl"
VENVS = Path(os.environ.get("BENCH_VENVS", ROOT / ".bench-venvs"))
VENV_PYTHON = os.environ.get("BENCH_VENV_PYTHON", "python3.11")
MLFLOW_PORT = int(os.environ.get("BENCH_MLFLOW_PORT", "5600"))
PYCARET_API_PORT = int(os.environ.get("BENCH_PYCARET_API_PORT", "5610"))
# The most a tool's answer for the sample patient may differ from our API's, in dollars.
TOLERANCE = 0.01
STAMP = ".bench-spec"


# ---------------------------------------------------------------------------
# The virtualenvs


@dataclass(frozen=True)
class VenvSpec:
    """A virtualenv of its own: its name under the cache folder, and its installs, in order, each one
    ``pip install --no-deps`` of requirement files (paths relative to the repository), so that exactly
    the pinned packages are installed."""

    name: str
    steps: tuple[tuple[str, ...], ...]

    def fingerprint(self, python: str) -> str:
        """What the environment is built from: the interpreter, the steps and each file's content."""
        digest = hashlib.sha256(f"{python}\n".encode())
        for step in self.steps:
            for name in step:
                digest.update(f"{name}\n".encode())
                digest.update((ROOT / name).read_bytes())
            digest.update(b"--\n")
        return digest.hexdigest()

    def pip_commands(self, venv: Path) -> list[list[str]]:
        python = str(venv / "bin" / "python")
        commands = [[python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"]]
        for step in self.steps:
            command = [python, "-m", "pip", "install", "--quiet", "--no-deps"]
            for name in step:
                command += ["-r", str(ROOT / name)]
            commands.append(command)
        return commands


MLFLOW_VENV = VenvSpec("mlflow", (("requirements-serve.txt", "bench/requirements-mlflow.txt"),))
PYCARET_API_VENV = VenvSpec("pycaret-api", (("requirements.txt",), ("bench/requirements-pycaret-api.txt",)))


def venv_ready(spec: VenvSpec, *, cache: Path = VENVS, python: str = VENV_PYTHON) -> bool:
    stamp = cache / spec.name / STAMP
    return stamp.is_file() and stamp.read_text().strip() == spec.fingerprint(python)


def venv_ensure(spec: VenvSpec, *, cache: Path = VENVS, python: str = VENV_PYTHON,
                run: Callable[..., object] = subprocess.run) -> Path:
    """The spec's virtualenv, built (or rebuilt, when its files changed) with pip; its folder."""
    venv = cache / spec.name
    if venv_ready(spec, cache=cache, python=python):
        return venv
    output = cache / f"{spec.name}.log"
    log(f"building {venv} from {', '.join(name for step in spec.steps for name in step)} (a few minutes; pip's "
        f"output in {output})")
    (venv / STAMP).unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    with open(output, "wb") as handle:
        for command in [[python, "-m", "venv", "--clear", str(venv)], *spec.pip_commands(venv)]:
            try:
                run(command, check=True, stdout=handle, stderr=subprocess.STDOUT)
            except subprocess.CalledProcessError as exc:
                raise SystemExit(f"building {venv} failed ({' '.join(command)}): see {output}") from exc
    (venv / STAMP).write_text(spec.fingerprint(python) + "\n")
    return venv


# ---------------------------------------------------------------------------
# The tools: how each is prepared and served, what it is sent, how its answer reads


def mlflow_body(record: dict) -> bytes:
    """One row as MLflow's scoring server reads a pandas DataFrame: ``dataframe_split``."""
    return json.dumps({"dataframe_split": {"columns": list(record), "data": [list(record.values())]}}).encode()


def mlflow_charge(answer: bytes) -> float:
    """The charge in MLflow's answer, ``{"predictions": [17076.04...]}``."""
    predictions = json.loads(answer)["predictions"]
    return float(predictions[0])


def pycaret_api_body(record: dict) -> bytes:
    """One row as create_api's app reads it: the input model's fields as a JSON object."""
    return json.dumps(record).encode()


def pycaret_api_charge(answer: bytes) -> float:
    """The charge in create_api's answer, ``{"prediction": 17076.04...}``."""
    return float(json.loads(answer)["prediction"])


# Run in the MLflow virtualenv: the pipeline loaded with predictor.ml.artifacts (hash checked), saved as an
# MLflow scikit-learn model with its input signature (so the server gives the columns the trained dtypes).
MLFLOW_SAVE = """
import sys
import mlflow.sklearn
from mlflow.models import infer_signature
from predictor.examples import SAMPLE_PATIENT
from predictor.ml.artifacts import load_model_artifact
from predictor.ml.predict import features_frame
model = load_model_artifact(sys.argv[1])
frame = features_frame([SAMPLE_PATIENT])
mlflow.sklearn.save_model(model.pipeline, sys.argv[2], signature=infer_signature(frame, model.pipeline.predict(frame)),
                          serialization_format="pickle", pip_requirements=["pycaret==3.3.2"])
"""

# Run in the create_api virtualenv, in the app's folder: PyCaret's own create_api writes the app. It reads
# from its experiment only the use case, the first row of X and of y (the input and output examples) and
# save_model; the stand-in gives it those, and save_model copies the committed artifact (which is what
# PyCaret's save_model writes: the pipeline, joblib-dumped to NAME.pkl).
PYCARET_CREATE_API = """
import shutil, sys, types
import pandas as pd
from pycaret.regression import RegressionExperiment
from pycaret.utils.generic import MLUsecase
from predictor.examples import SAMPLE_PATIENT
from predictor.ml.predict import features_frame
artifact, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
experiment = types.SimpleNamespace(
    _ml_usecase=MLUsecase.REGRESSION, X=features_frame([SAMPLE_PATIENT]), y=pd.Series([16884.924], name="charges"),
    save_model=lambda estimator, model_name, verbose: shutil.copyfile(artifact, model_name + ".pkl"),
)
RegressionExperiment.create_api(experiment, None, name, host="127.0.0.1", port=port)
"""


def tool_env(venv: Path, **extra: str) -> dict[str, str]:
    """A tool's environment: its virtualenv first on PATH (MLflow starts ``uvicorn`` by name), the
    repository on PYTHONPATH (the pickle needs predictor.features), no Django settings of ours."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT),
               VIRTUAL_ENV=str(venv), **extra)
    return env


def mlflow_prepare(venv: Path, folder: Path, port: int) -> list[str]:
    """Save the pipeline as an MLflow model in ``folder``; the command that serves it."""
    model = folder / "model"
    subprocess.run([str(venv / "bin" / "python"), "-c", MLFLOW_SAVE, str(ARTIFACT), str(model)], cwd=folder,
                   env=tool_env(venv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # env -C: the server starts in the tool's folder (start_server starts it in the repository).
    return ["env", "-C", str(folder), str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(model), "-h", HOST, "-p", str(port),
            "-w", "2", "--env-manager", "local"]


def pycaret_api_prepare(venv: Path, folder: Path, port: int) -> list[str]:
    """Have create_api write its app into ``folder``; the command that serves it."""
    subprocess.run([str(venv / "bin" / "python"), "-c", PYCARET_CREATE_API, str(ARTIFACT), "insurance_api", str(port)],
                   cwd=folder, env=tool_env(venv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # In the app's folder: it loads its model as load_model("insurance_api"), from the working directory.
    return ["env", "-C", str(folder), str(venv / "bin" / "uvicorn"), "insurance_api:app", "--host", HOST,
            "--port", str(port), "--workers", "2"]


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    venv: VenvSpec
    port: int
    path: str
    body: Callable[[dict], bytes]
    charge: Callable[[bytes], float]
    prepare: Callable[[Path, Path, int], list[str]]

    def request(self) -> bytes:
        return build_request("POST", self.path, f"{HOST}:{self.port}", self.body(RECORD),
                             {"Content-Type": "application/json"})


TOOLS = {
    "mlflow": Tool("mlflow", "MLflow models serve (uvicorn, 2 workers)", MLFLOW_VENV, MLFLOW_PORT, "/invocations",
                   mlflow_body, mlflow_charge, mlflow_prepare),
    "pycaret-api": Tool("pycaret-api", "PyCaret create_api (FastAPI, uvicorn, 2 workers)", PYCARET_API_VENV,
                        PYCARET_API_PORT, "/predict", pycaret_api_body, pycaret_api_charge, pycaret_api_prepare),
}


class AnswerMismatch(SystemExit):
    pass


def charge_check(tool: str, theirs: float, ours: float, *, tolerance: float = TOLERANCE) -> None:
    """Stop the run, saying so, when a tool's charge for the sample patient is not ours within ``tolerance``."""
    if not abs(theirs - ours) <= tolerance:
        raise AnswerMismatch(
            f"{tool} charges the sample patient {RECORD} ${theirs:,.4f}, but our API ${ours:,.2f} (a difference of "
            f"${abs(theirs - ours):,.4f}, more than ${tolerance}): it does not serve the same pipeline, so its "
            f"requests/s would not compare; not measured"
        )


def ask(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.read()


# ---------------------------------------------------------------------------
# The report


def ours_from_results(path: Path | None) -> dict | None:
    """Our API's one-row figures and its charge for the sample patient from bench/run.py's --json results,
    or None when there are none to read."""
    if path is None or not path.is_file() or not path.stat().st_size:
        return None
    results = json.loads(path.read_text())
    if "api" not in results or "api_sample_charge" not in results:
        return None
    api = results["api"]
    return {"requests_per_second": api["requests_per_second"], "p50_ms": api["p50_ms"], "p99_ms": api["p99_ms"],
            "charge": results["api_sample_charge"], "source": f"bench/run.py's results ({path})"}


def report_lines(ours: dict, tools: dict[str, dict], args) -> list[str]:
    """The table: our API first, then each tool with its ratio to our requests/s (ours / theirs)."""
    lines = [
        f"\nthe tools users would pick instead, on the same pipeline and load ({args.concurrency} clients, "
        f"{args.seconds:g} s each; our API's figures from {ours['source']}):",
        f"{'':52}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ours is':>10}  stores",
        f"{'our API: POST /api/v1/predictions, one record':52}{ours['requests_per_second']:>9}{ours['p50_ms']:>9}"
        f"{ours['p99_ms']:>9}{'':>10}  every answer",
    ]
    for name, part in tools.items():
        label = TOOLS[name].label if name in TOOLS else name
        if "error" in part:
            lines.append(f"{label:52}  not measured: {part['error']}")
            continue
        lines.append(f"{label:52}{part['requests_per_second']:>9}{part['p50_ms']:>9}{part['p99_ms']:>9}"
                     f"{part['ours_to_theirs']:>9}x  nothing")
    lines.append("These tools store nothing (no row, no model version, no input kept); our API stores every answer "
                 "in PostgreSQL before it answers. 'ours is' = our API's requests/s over the tool's.")
    return lines


def ratio(ours: dict, theirs: dict) -> float:
    return round(ours["requests_per_second"] / theirs["requests_per_second"], 1)


# ---------------------------------------------------------------------------
# The runs


def measure_ours(args, logs: Path) -> dict:
    """Our API as deployed, measured here: one load of one-row POSTs, as bench/run.py measures it."""
    from bench.harness import (VENV_BIN, api_request, api_sample_charge, database_prepare, measure_load, server_env,
                               start_server, stop)
    from bench.loadgen import run_load

    log(f"measuring our API here: fresh database {DATABASE_URL}, port {APP_PORT}")
    database_prepare()
    gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn", "--control-socket",
                str(logs / "app.ctl"), "insurance_site.wsgi:application"]
    app, _ = start_server(gunicorn, APP_PORT, server_env(GUNICORN_BIND=f"{HOST}:{APP_PORT}"), logs / "app.log")
    try:
        charge = api_sample_charge()
        run_load(HOST, APP_PORT, api_request(), concurrency=args.concurrency, seconds=2)  # warm-up
        part = measure_load("our API one-row", api_request(), 201, args, port=APP_PORT, rows=(DATABASE_URL, "api"),
                            server_pid=app.pid)
    finally:
        stop(app)
    return {"requests_per_second": part["requests_per_second"], "p50_ms": part["p50_ms"], "p99_ms": part["p99_ms"],
            "charge": charge, "source": "this run, measured just before the tools"}


def measure_tool(tool: Tool, ours: dict, args, logs: Path) -> dict:
    """Install (if needed), prepare and start one tool, check its answer against ours, load it, stop it."""
    from bench.harness import measure_load, start_server, stop
    from bench.loadgen import run_load
    from predictor.ml.artifacts import verify_artifact

    verify_artifact(ARTIFACT)  # the committed pipeline, as its card describes it
    venv = venv_ensure(tool.venv)
    folder = Path(tempfile.mkdtemp(prefix=f"{tool.name}-", dir=logs))
    try:
        command = tool.prepare(venv, folder, tool.port)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{tool.name}: preparing the model failed: {exc.stderr.decode()[-2000:]}") from exc
    body = tool.body(RECORD)
    log(f"{tool.name}: {' '.join(command)}")
    # Ready when the sample patient is answered (neither tool has a health URL that loads the model).
    server, ready = start_server(command, tool.port, tool_env(venv), logs / f"{tool.name}.log",
                                 probe=("POST", tool.path, body.decode()))
    try:
        status, answer = ask(tool.port, tool.path, body)
        if status != 200:
            raise SystemExit(f"{tool.name} answered the sample patient with {status}: {answer[:300]!r}")
        charge = tool.charge(answer)
        charge_check(tool.name, charge, ours["charge"])
        run_load(HOST, tool.port, tool.request(), concurrency=args.concurrency, seconds=2)  # warm-up
        part = measure_load(tool.label, tool.request(), 200, args, port=tool.port, server_pid=server.pid)
    finally:
        stop(server)
    part.pop("postgres_cpu_us_per_request", None)  # the tools use no database: it would be other work's
    part.update(charge=charge, ready_seconds=round(ready, 2), ours_to_theirs=ratio(ours, part))
    return part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--ours", type=Path,
                        help="bench/run.py's --json results of the same run, for our API's figures; without it (or "
                             "if the file is empty) our API is measured here first")
    parser.add_argument("--tool", choices=sorted(TOOLS), action="append",
                        help="only this tool (may be repeated; default all)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    logs = Path(tempfile.mkdtemp(prefix="bench-alternatives-"))
    ours = ours_from_results(args.ours)
    if ours is None:
        if args.ours:
            log(f"no results of our API in {args.ours}: measuring it here")
        ours = measure_ours(args, logs)
    results: dict[str, dict] = {}
    failed = 0
    for name in args.tool or list(TOOLS):
        try:
            results[name] = measure_tool(TOOLS[name], ours, args, logs)
        except (SystemExit, subprocess.CalledProcessError, OSError) as exc:
            failed += 1
            results[name] = {"error": str(exc.code if isinstance(exc, SystemExit) else exc)}
            print(f"[FAIL] {name}: {results[name]['error']}", flush=True)
    print("\n".join(report_lines(ours, results, args)))
    print(f"logs and the tools' folders: {logs}")
    if args.json:
        args.json.write_text(json.dumps({"ours": ours, "tools": results}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
