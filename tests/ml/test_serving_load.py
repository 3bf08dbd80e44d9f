"""The serving-only load: joblib instead of PyCaret's load_model, with only requirements-serve.txt.

The container image installs requirements-serve.txt (PyCaret without its dependencies). Here the
suite runs on the full install, so a subprocess emulates the serving one: every package that
requirements-serve.txt does not list is made unimportable (an import of it fails as if it were
not installed). `make image-test` then checks the real thing inside the built image.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from predictor.ml import artifacts, predict
from tests import golden

PROJECT_DIR = Path(settings.BASE_DIR)
ARTIFACTS = sorted((PROJECT_DIR / "predictor" / "artifacts").glob("*.pkl"))
# PyCaret's training modules (the experiment API, its model and plot containers) and the training,
# plotting and notebook libraries the serving install leaves out: a serving path must import none.
TRAINING_MODULES = (
    "pycaret.regression",
    "pycaret.classification",
    "pycaret.time_series",
    "pycaret.internal.pycaret_experiment",
    "pycaret.containers.models",
    "pycaret.internal.plots",
)
TRAINING_LIBRARIES = ("numba", "llvmlite", "sktime", "IPython", "dash", "flask", "yellowbrick", "pmdarima")
# On the full install PyCaret's unpickling probes the versions of its dependencies, importing those
# without a top_level.txt (plotly, lightgbm), and pandas imports matplotlib when present; in the
# serving install they are absent, and the emulated one must not need them either.
ABSENT_IN_SERVING = TRAINING_LIBRARIES + ("plotly", "matplotlib", "lightgbm", "scikitplot", "kaleido")
# Present in any Python image; pip installs into it.
BASE_DISTRIBUTIONS = {"pip", "setuptools", "wheel"}


def requirement_pins(path: Path) -> dict[str, str]:
    """name (normalised as pip does) -> pinned version, from a requirements file's `name==version` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==([^\s;#]+)", line)
        if found:
            pins[re.sub(r"[-_.]+", "-", found.group(1)).lower()] = found.group(2)
    return pins


# Run first in each subprocess: the import system stops finding, and importlib.metadata (and its
# backport, which PyCaret reads) stops listing, the distributions requirements-serve.txt does not
# hold, so each looks not installed (`import` fails, `find_spec` answers None), as in the image.
SERVING_INSTALL = textwrap.dedent(
    f"""
    import importlib.metadata, re, sys
    import importlib_metadata  # installs its own distribution finder, wrapped below with the others
    allowed = {sorted(set(requirement_pins(PROJECT_DIR / "requirements-serve.txt")) | BASE_DISTRIBUTIONS)!r}
    normalise = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    absent = {{
        module for module, owners in importlib.metadata.packages_distributions().items()
        if not any(normalise(owner) in allowed for owner in owners)
    }}

    class ServingInstallOnly:
        def __init__(self, finder):
            self.finder = finder

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in absent or not hasattr(self.finder, "find_spec"):
                return None
            return self.finder.find_spec(name, path, target)

        def find_distributions(self, *args, **kwargs):
            found = getattr(self.finder, "find_distributions", lambda *a, **k: ())(*args, **kwargs)
            return (d for d in found if normalise(d.metadata["Name"] or "") in allowed)

        def invalidate_caches(self):
            getattr(self.finder, "invalidate_caches", lambda: None)()

    sys.meta_path[:] = [ServingInstallOnly(finder) for finder in sys.meta_path]
    """
)

# Load every committed artifact as the app does, predict the golden patients through the pipeline
# (a batch) and one by one (the fast path), and report which modules that imported.
LOAD_AND_PREDICT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from predictor.ml import artifacts, predict
    from tests import golden

    answers = {}
    for path in sorted(Path("predictor/artifacts").glob("*.pkl")):
        model = artifacts.load_model_artifact(path)
        rows = golden.inputs()
        answers[model.name] = {
            "batch": predict.predict_charges_with_interval(rows, model),
            "one": [predict.predict_charges_with_interval([row], model)[0] for row in rows],
        }
    print(json.dumps({"answers": answers, "modules": sorted(sys.modules)}))
    """
)


def run_python(code: str, *, serving_install: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", (SERVING_INSTALL if serving_install else "") + code],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in names))


def assert_golden(answers: dict) -> None:
    for name in golden.models():
        expected = [(float(g.charges), g.low and float(g.low), g.high and float(g.high)) for g in golden.answers(name)]
        for path in ("batch", "one"):
            for got, want in zip(answers[name][path], expected, strict=True):
                assert got == pytest.approx(want, abs=golden.tolerance(name)), (name, path)


def test_every_serving_pin_is_the_full_installs_pin():
    serving = requirement_pins(PROJECT_DIR / "requirements-serve.txt")
    full = requirement_pins(PROJECT_DIR / "requirements.txt")
    assert "pycaret" in serving
    assert {name: version for name, version in serving.items() if full.get(name) != version} == {}


@pytest.mark.parametrize("path", ARTIFACTS, ids=lambda path: path.stem)
def test_the_joblib_load_predicts_exactly_what_pycarets_load_model_does(path):
    from pycaret.regression import load_model

    ours = artifacts.load_model_artifact(path).pipeline
    pycarets = load_model(str(path.with_suffix("")), verbose=False)
    frame = predict.features_frame(golden.inputs())
    assert type(ours) is type(pycarets)
    assert ours.predict(frame).tolist() == pycarets.predict(frame).tolist()


def test_loading_and_predicting_imports_none_of_the_training_modules():
    result = run_python(LOAD_AND_PREDICT, serving_install=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert loaded(report["modules"], TRAINING_MODULES + TRAINING_LIBRARIES) == []
    assert_golden(report["answers"])


def test_the_serving_install_loads_every_committed_artifact_and_answers_the_golden_predictions():
    result = run_python(LOAD_AND_PREDICT, serving_install=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert sorted(report["answers"]) == sorted(path.stem for path in ARTIFACTS)
    assert loaded(report["modules"], TRAINING_MODULES + ABSENT_IN_SERVING) == []
    assert_golden(report["answers"])


def test_the_emulated_serving_install_really_lacks_the_training_stack():
    code = textwrap.dedent(
        """
        import importlib
        for name in ("pycaret.regression", "plotly", "lightgbm", "numba"):
            try:
                importlib.import_module(name)
            except ImportError:
                print("absent", name)
        """
    )
    result = run_python(code, serving_install=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["absent", "pycaret.regression", "absent", "plotly", "absent", "lightgbm", "absent", "numba"]


def test_every_app_module_imports_in_the_serving_install():
    code = textwrap.dedent(
        """
        import importlib, pkgutil, django
        django.setup()
        import insurance_site.urls  # not wsgi: its warm-up would read the configured database
        import predictor
        for module in pkgutil.walk_packages(predictor.__path__, "predictor."):
            importlib.import_module(module.name)
        print("imported")
        """
    )
    result = run_python(code, serving_install=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("imported")


def test_train_model_in_the_serving_install_says_training_needs_the_full_install(tmp_path):
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['manage.py', 'train_model', '--data', {str(tmp_path / 'data.csv')!r}]\n"
        "runpy.run_path('manage.py', run_name='__main__')\n"
    )
    result = run_python(code, serving_install=True)
    assert result.returncode == 1
    assert "Training needs the full install (requirements.txt" in result.stderr
    assert "requirements-serve.txt" in result.stderr and "make train" in result.stderr
    assert "`import pycaret.regression` fails" in result.stderr
    assert not list(tmp_path.iterdir())
