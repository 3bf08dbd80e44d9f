"""docker/image_test.py's checks by one-off containers of the image: the committed models against the
golden table and no training stack, the entrypoint's refusals without a required setting,
DATABASE_URL built from DB_* parts, and every management command of the app.

A mixin of ImageTest (docker/image_test.py), which gives it builder, database_url and ok.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

from image_builders import PROJECT_DIR
from image_host import DATABASE_NAME, FIELDS, CheckFailed, active_model_versions, prediction_rows, say

if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))
from predictor.examples import SAMPLE_PATIENT  # noqa: E402  (imports nothing itself)
from tests import golden  # noqa: E402  (the golden table's reader and tolerances; the standard library only)

# Settings the entrypoint refuses to start without, alone or (the DB_* ones) with DB_HOST given.
REQUIRED = ("DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
REQUIRED_WITH_DB_HOST = ("DB_NAME", "DB_USER", "DB_PASSWORD")
# A password with every character that must be URL-quoted in DATABASE_URL.
AWKWARD_PASSWORD = "p@ss:w/rd#?%"
# PyCaret's training modules, and the training, plotting and notebook libraries that
# requirements-serve.txt leaves out: the image must hold none of the libraries, and loading and
# predicting must import none of either.
TRAINING_MODULES = (
    "pycaret.regression", "pycaret.classification", "pycaret.time_series",
    "pycaret.internal.pycaret_experiment", "pycaret.containers.models", "pycaret.internal.plots",
)
TRAINING_LIBRARIES = (
    "lightgbm", "numba", "llvmlite", "plotly", "dash", "kaleido", "matplotlib", "yellowbrick",
    "sktime", "pmdarima", "tbats", "IPython", "ipywidgets", "flask",
)
# Run inside the image (python -c, argument: the golden patients and the two lists above as JSON):
# each committed model loaded and verified as the app loads it, its answers for the patients as a
# batch (the pipeline) and one by one (the fast path the form and the API take), the training
# modules that were imported and the training libraries that are installed.
IN_IMAGE_GOLDEN = """
import importlib.util, json, sys
from pathlib import Path
from predictor.ml import artifacts, predict
rows, training_modules, training_libraries = json.loads(sys.argv[1])
answers = {}
for path in sorted(Path("predictor/artifacts").glob("*.pkl")):
    model = artifacts.load_model_artifact(path)
    answers[model.name] = {
        "batch": predict.predict_charges_with_interval(rows, model),
        "one": [predict.predict_charges_with_interval([row], model)[0] for row in rows],
    }
names = training_modules + training_libraries
print("GOLDEN " + json.dumps({
    "answers": answers,
    "imported": sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in names)),
    "installed": sorted(n for n in training_libraries if importlib.util.find_spec(n) is not None),
}))
"""
# Beyond --help, the management commands run for real (check_commands); any other command the
# app has (a new one) gets --help only, and the test names it.
COMMANDS_RUN = ("train_model", "model_info", "activate_model", "predict", "predict_csv", "migrate_with_lock")


class CommandChecks:
    """The checks that run the image's commands in containers of their own, beside or without the server."""

    def site_packages_size(self) -> str:
        """`du -sh` of the image's site-packages (where pip installed the serving set)."""
        script = 'du -sh "$(python -c \'import sysconfig; print(sysconfig.get_paths()["purelib"])\')" | cut -f1'
        result = self.builder.run({}, ["sh", "-c", script], timeout=120)
        if result.returncode != 0:
            raise CheckFailed(f"du of site-packages in the image failed: {result.stderr.strip()[-500:]}")
        return result.stdout.strip()

    def check_golden(self) -> None:
        """Inside the image: every committed model answers the golden table within its tolerance; no training stack."""
        rows = golden.inputs()
        argument = json.dumps([rows, TRAINING_MODULES, TRAINING_LIBRARIES])
        result = self.builder.run({}, ["python", "-c", IN_IMAGE_GOLDEN, argument], timeout=300)
        found = [line.removeprefix("GOLDEN ") for line in result.stdout.splitlines() if line.startswith("GOLDEN ")]
        if result.returncode != 0 or not found:
            raise CheckFailed(f"loading the committed models in the image failed ({result.returncode}): "
                              f"{(result.stdout + result.stderr).strip()[-2000:]}")
        report = json.loads(found[-1])
        if report["installed"]:
            raise CheckFailed(f"the image holds training-only libraries: {', '.join(report['installed'])} (requirements-serve.txt)")
        if report["imported"]:
            raise CheckFailed(f"loading and predicting in the image imported training modules: {', '.join(report['imported'][:20])}")
        answers, checked = report["answers"], []
        for name in golden.models():
            if name not in answers:
                raise CheckFailed(f"the golden table has answers of {name}, but the image has no {name}.pkl")
            worst = 0.0
            for path in ("batch", "one"):
                for patient, got, want in zip(rows, answers[name][path], golden.answers(name), strict=True):
                    for value, expected in zip(got, (want.charges, want.low, want.high)):
                        if (value is None) != (expected is None):
                            raise CheckFailed(f"{name} ({path}) answered {got} for {patient}; the golden table has {want}")
                        if value is not None:
                            worst = max(worst, abs(value - float(expected)))
                            if worst > golden.tolerance(name) + 1e-9:
                                raise CheckFailed(f"{name} ({path}) answered {got} for {patient}: off by ${worst:,.4f} from the "
                                                  f"golden table ({want}), more than ${golden.tolerance(name):,.2f}")
            checked.append(f"{name} within ${golden.tolerance(name):,.2f} (worst ${worst:.4f})")
        self.ok(f"the golden predictions in the image, {len(rows)} patients as a batch and one by one: {'; '.join(checked)}")
        self.ok(f"no training stack in the image: {len(TRAINING_LIBRARIES)} training libraries absent, and loading "
                "and predicting imported no PyCaret training module")
        others = sorted(set(answers) - set(golden.models()))
        if others:
            say(f"also loaded and predicted in the image (not in the golden table): {', '.join(others)}")

    def check_commands(self, task_env: dict[str, str], entrypoint: str, model_name: str) -> None:
        """Every management command of the app, in the image: --help, train_model's refusal, and real runs."""

        def manage(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
            return self.builder.run(task_env, [entrypoint, "python", "manage.py", *argv], timeout=timeout)

        def said(result: subprocess.CompletedProcess) -> str:
            return (result.stdout + result.stderr).strip()[-1500:]

        code = ("import json; from django.core.management import get_commands; "
                "print('COMMANDS', json.dumps(sorted(n for n, app in get_commands().items() if app == 'predictor')))")
        result = manage("shell", "-c", code)
        found = [line.removeprefix("COMMANDS ") for line in result.stdout.splitlines() if line.startswith("COMMANDS ")]
        if result.returncode != 0 or not found:
            raise CheckFailed(f"listing the management commands in the image failed ({result.returncode}): {said(result)}")
        commands = json.loads(found[-1])

        loop = 'for c in "$@"; do if python manage.py "$c" --help > /dev/null; then echo "HELP ok $c"; else echo "HELP failed $c"; fi; done'
        result = self.builder.run(task_env, [entrypoint, "bash", "-c", loop, "bash", *commands], timeout=600)
        failed = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("HELP failed")]
        if result.returncode != 0 or failed or result.stdout.count("HELP ok") != len(commands):
            raise CheckFailed(f"in the image, --help failed for {', '.join(failed) or '?'}: {result.stderr.strip()[-2000:]}")
        self.ok(f"every management command answers --help in the image: {', '.join(commands)}")

        result = manage("train_model", "--data", "/tmp/insurance.csv")
        refusal = [line for line in result.stderr.splitlines() if "Training needs the full install" in line]
        if result.returncode == 0 or not refusal:
            raise CheckFailed(f"train_model in the image did not refuse saying training needs the full install: {said(result)}")
        self.ok(f"train_model refuses in the image (status {result.returncode}): {refusal[0][:110]}...")

        result = manage("model_info", "--json")
        card = json.loads(result.stdout) if result.returncode == 0 else {}
        if card.get("name") != model_name:
            raise CheckFailed(f"model_info --json in the image did not print the card of {model_name}: {said(result)}")
        self.ok(f"model_info --json prints the active model's card ({model_name}, holdout R² {card['holdout']['r2']})")

        other = next((name for name in golden.models() if name != model_name), None)
        result = manage("activate_model", "--list")
        listed = [name for name in golden.models() if name in result.stdout]
        if result.returncode != 0 or len(listed) != len(golden.models()):
            raise CheckFailed(f"activate_model --list in the image does not list {golden.models()}: {said(result)}")
        if other is None:
            raise CheckFailed("the golden table has no second model to activate")
        result = manage("activate_model", other)
        if result.returncode != 0 or f"{other} is now the active model" not in result.stdout or active_model_versions(self.database_url) != [other]:
            raise CheckFailed(f"activate_model {other} in the image did not make it the active model: {said(result)}")

        patient = SAMPLE_PATIENT
        result = manage("predict", *[f"--{key}={patient[key]}" for key in FIELDS])
        rows = prediction_rows(self.database_url, "shell")
        want = golden.answer_for(patient, other).charges
        if result.returncode != 0 or len(rows) != 1 or rows[0][8] != other or abs(rows[0][7] - want) > Decimal(str(golden.tolerance(other))):
            raise CheckFailed(f"predict in the image with {other} active: {said(result)}; stored {rows} (golden ${want:,})")
        self.ok(f"activate_model {other}, then predict stores ${rows[0][7]:,} by {other} (golden ${want:,})")

        result = manage("activate_model", model_name)
        if result.returncode != 0 or active_model_versions(self.database_url) != [model_name]:
            raise CheckFailed(f"activate_model {model_name} in the image did not make it active again: {said(result)}")
        patients = golden.inputs()
        table = "\n".join([",".join(FIELDS)] + [",".join(str(row[key]) for key in FIELDS) for row in patients]) + "\n"
        script = 'printf "%s" "$1" > /tmp/patients.csv && exec python manage.py predict_csv /tmp/patients.csv - --no-progress'
        result = self.builder.run(task_env, [entrypoint, "bash", "-c", script, "bash", table], timeout=300)
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        scored = [Decimal(line.rsplit(",", 1)[-1]) for line in lines[1:]]
        wanted = [g.charges for g in golden.answers(model_name)]
        stored = prediction_rows(self.database_url, "batch")
        tolerance = Decimal(str(golden.tolerance(model_name)))
        if (result.returncode != 0 or not lines or not lines[0].endswith("predicted_charges") or len(scored) != len(wanted)
                or any(abs(a - b) > tolerance for a, b in zip(scored, wanted)) or [r[7] for r in stored] != scored):
            raise CheckFailed(f"predict_csv in the image: {said(result)}; stored {len(stored)} rows")
        self.ok(f"activate_model {model_name} again, then predict_csv scores the {len(wanted)} golden patients within "
                f"${tolerance} of the table, all stored as one batch")

        result = manage("migrate_with_lock", "--noinput")
        if result.returncode != 0 or "No migrations to apply" not in result.stdout:
            raise CheckFailed(f"migrate_with_lock in the image: {said(result)}")
        self.ok("migrate_with_lock in the image: no migrations to apply")
        help_only = sorted(set(commands) - set(COMMANDS_RUN))
        if help_only:
            say(f"run with --help only (no real run defined in COMMANDS_RUN): {', '.join(help_only)}")

    def check_refusals(self, task_env: dict[str, str], entrypoint_and_command: list[str]) -> None:
        """Without each required setting, the entrypoint stops at once and names it."""
        cases = [(name, {k: v for k, v in task_env.items() if k != name}) for name in REQUIRED]
        parts = {"DB_HOST": "127.0.0.1", "DB_NAME": DATABASE_NAME, "DB_USER": "postgres", "DB_PASSWORD": "x"}
        without_url = {k: v for k, v in task_env.items() if k != "DATABASE_URL"}
        cases += [(name, {**without_url, **{k: v for k, v in parts.items() if k != name}}) for name in REQUIRED_WITH_DB_HOST]
        for name, env in cases:
            context = "" if name in REQUIRED else " (with DB_HOST given)"
            try:
                result = self.builder.run(env, entrypoint_and_command, timeout=120)
            except subprocess.TimeoutExpired:
                raise CheckFailed(f"without {name}{context} the container was still running after 120 s") from None
            said = (result.stdout + result.stderr).strip()
            if result.returncode == 0:
                raise CheckFailed(f"without {name}{context} the container exited with status 0: {said[-500:]}")
            reason = [line for line in said.splitlines() if f"{name} is required" in line]
            if not reason:
                raise CheckFailed(f"without {name}{context} the container did not say '{name} is required'; it said: {said[-500:]}")
            self.ok(f"without {name}{context} it stops at once (status {result.returncode}): {reason[0][:100]}...")

    def check_database_url_from_parts(self, entrypoint: str) -> None:
        """On AWS the task gets the database URL as parts, the password from the RDS-managed secret."""
        parts = {"USER": "postgres", "PASSWORD": AWKWARD_PASSWORD, "HOST": "127.0.0.1", "PORT": "5432", "NAME": DATABASE_NAME}
        env = {
            "DB_HOST": parts["HOST"], "DB_PORT": parts["PORT"], "DB_NAME": parts["NAME"], "DB_USER": parts["USER"],
            "DB_PASSWORD": parts["PASSWORD"], "DJANGO_SECRET_KEY": "x", "DJANGO_ALLOWED_HOSTS": "localhost",
        }
        code = (
            "import json; from django.conf import settings; d = settings.DATABASES['default']; "
            f"print('SEEN', json.dumps({{k: str(d[k]) for k in {list(parts)!r}}}))"
        )
        result = self.builder.run(env, [entrypoint, "python", "manage.py", "shell", "-c", code], timeout=300)
        seen = [line.removeprefix("SEEN ") for line in result.stdout.splitlines() if line.startswith("SEEN ")]
        if result.returncode != 0 or not seen:
            raise CheckFailed(f"manage.py shell with DB_* parts exited with {result.returncode}: {(result.stdout + result.stderr)[-1000:]}")
        if json.loads(seen[-1]) != parts:
            raise CheckFailed(f"DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD became {seen[-1]}, not {json.dumps(parts)}")
        self.ok("DATABASE_URL built from DB_* parts (the password URL-quoted and read back intact)")
