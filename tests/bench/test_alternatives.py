"""bench/alternatives.py without MLflow or the create_api app installed: what each tool is sent, how its
answer reads, the check of its charge against ours, the report, and the virtualenvs' specs."""

import json
from types import SimpleNamespace

import pytest

from bench import alternatives
from bench.alternatives import (MLFLOW_VENV, PYCARET_API_VENV, TOOLS, AnswerMismatch, VenvSpec, charge_check,
                                mlflow_body, mlflow_charge, ours_from_results, pycaret_api_body, pycaret_api_charge,
                                report_lines, venv_ensure, venv_ready)
from bench.harness import ROOT
from predictor.examples import SAMPLE_PATIENT


def test_mlflow_is_sent_one_row_as_a_dataframe_split_with_the_six_inputs_in_order():
    body = json.loads(mlflow_body(SAMPLE_PATIENT))
    assert body == {"dataframe_split": {"columns": ["age", "sex", "bmi", "children", "smoker", "region"],
                                        "data": [[19, "female", 27.9, 0, "yes", "southwest"]]}}


def test_the_create_api_app_is_sent_the_record_as_its_input_models_fields():
    assert json.loads(pycaret_api_body(SAMPLE_PATIENT)) == SAMPLE_PATIENT


def test_each_tools_answer_reads_as_the_charge():
    assert mlflow_charge(b'{"predictions": [17076.04479221341]}') == pytest.approx(17076.0448)
    assert pycaret_api_charge(b'{"prediction":17076.044605594445}') == pytest.approx(17076.0446)


def test_each_tools_request_is_a_post_of_its_body_to_its_path_on_its_port():
    for tool in TOOLS.values():
        head, body = tool.request().split(b"\r\n\r\n", 1)
        assert head.startswith(f"POST {tool.path} HTTP/1.1".encode())
        assert f"Host: 127.0.0.1:{tool.port}".encode() in head and b"Content-Type: application/json" in head
        assert body == tool.body(SAMPLE_PATIENT)


def test_a_charge_within_a_cent_of_ours_passes():
    charge_check("mlflow", 17076.0448, 17076.04)
    charge_check("pycaret-api", 17076.0446, 17076.04)


def test_a_charge_more_than_a_cent_from_ours_stops_the_run_and_says_why():
    with pytest.raises(AnswerMismatch, match=r"mlflow charges the sample patient .*\$17,080\.0000, but our API "
                                             r"\$17,076\.04 .*not measured"):
        charge_check("mlflow", 17080.0, 17076.04)
    with pytest.raises(AnswerMismatch):
        charge_check("mlflow", float("nan"), 17076.04)


def test_ours_is_read_from_bench_runs_results(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"api": {"requests_per_second": 691.0, "p50_ms": 11.3, "p99_ms": 15.4},
                                   "api_sample_charge": 17076.04}))
    ours = ours_from_results(results)
    assert ours["requests_per_second"] == 691.0 and ours["charge"] == 17076.04 and str(results) in ours["source"]


def test_without_usable_results_ours_is_measured_here(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    without_charge = tmp_path / "quick.json"
    without_charge.write_text(json.dumps({"api": {"requests_per_second": 1, "p50_ms": 1, "p99_ms": 1}}))
    assert ours_from_results(None) is None
    assert ours_from_results(tmp_path / "missing.json") is None
    assert ours_from_results(empty) is None
    assert ours_from_results(without_charge) is None


def test_the_report_gives_each_tool_our_ratio_and_says_they_store_nothing():
    ours = {"requests_per_second": 690.0, "p50_ms": 11.3, "p99_ms": 15.4, "source": "this run"}
    tools = {"mlflow": {"requests_per_second": 46.0, "p50_ms": 170.0, "p99_ms": 380.0,
                        "ours_to_theirs": alternatives.ratio(ours, {"requests_per_second": 46.0})},
             "pycaret-api": {"error": "pycaret-api answered the sample patient with 500"}}
    text = "\n".join(report_lines(ours, tools, SimpleNamespace(concurrency=8, seconds=20.0)))
    assert tools["mlflow"]["ours_to_theirs"] == 15.0
    mlflow_line = next(line for line in text.splitlines() if line.startswith("MLflow"))
    assert mlflow_line.split()[-2:] == ["15.0x", "nothing"]
    assert "not measured: pycaret-api answered the sample patient with 500" in text
    assert "These tools store nothing" in text and "our API stores every answer" in text


def test_each_venv_is_installed_without_dependencies_from_committed_files_in_order(tmp_path):
    for spec in (MLFLOW_VENV, PYCARET_API_VENV):
        for step in spec.steps:
            for name in step:
                assert (ROOT / name).is_file(), name
    commands = PYCARET_API_VENV.pip_commands(tmp_path / "venv")
    installs = [command for command in commands if "--no-deps" in command]
    assert [command[command.index("-r") + 1:] for command in installs] == [
        [str(ROOT / "requirements.txt")], [str(ROOT / "bench" / "requirements-pycaret-api.txt")]]
    assert all(command[0] == str(tmp_path / "venv" / "bin" / "python") for command in commands)


def test_the_requirement_files_pin_every_package_exactly():
    for name in ("bench/requirements-mlflow.txt", "bench/requirements-pycaret-api.txt"):
        lines = [line.strip() for line in (ROOT / name).read_text().splitlines()]
        pins = [line for line in lines if line and not line.startswith("#")]
        assert pins and all("==" in line and " " not in line for line in pins), name


def test_the_mlflow_venv_shares_the_projects_pins():
    """What the MLflow environment shares with the project (numpy, pandas, pydantic, ...) is pinned the same."""
    def pins(path):
        return {line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].strip()
                for line in (ROOT / path).read_text().splitlines() if "==" in line and not line.startswith("#")}

    project, mlflow = pins("requirements.txt"), pins("bench/requirements-mlflow.txt")
    assert {name: version for name, version in mlflow.items() if project.get(name, version) != version} == {}


def test_a_venv_is_built_once_and_rebuilt_when_its_files_change(tmp_path, monkeypatch):
    (tmp_path / "reqs.txt").write_text("six==1.17.0\n")
    monkeypatch.setattr(alternatives, "ROOT", tmp_path)
    spec = VenvSpec("tool", (("reqs.txt",),))
    ran = []

    def run(command, check, stdout, stderr):
        ran.append(command)
        if command[1:3] == ["-m", "venv"]:
            (tmp_path / "cache" / "tool").mkdir(parents=True, exist_ok=True)

    cache = tmp_path / "cache"
    assert not venv_ready(spec, cache=cache, python="python3.11")
    assert venv_ensure(spec, cache=cache, python="python3.11", run=run) == cache / "tool"
    assert ran[0] == ["python3.11", "-m", "venv", "--clear", str(cache / "tool")] and len(ran) == 3
    assert venv_ready(spec, cache=cache, python="python3.11")
    venv_ensure(spec, cache=cache, python="python3.11", run=run)
    assert len(ran) == 3  # nothing changed: nothing installed
    (tmp_path / "reqs.txt").write_text("six==1.16.0\n")
    assert not venv_ready(spec, cache=cache, python="python3.11")
    venv_ensure(spec, cache=cache, python="python3.11", run=run)
    assert len(ran) == 6
    assert not venv_ready(spec, cache=cache, python="python3.12")  # another interpreter is another environment
