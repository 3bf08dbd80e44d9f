"""The house rules that keep the layout clear, checked on the source itself."""

import ast
from pathlib import Path

PREDICTOR = Path(__file__).resolve().parent.parent / "predictor"
ML_LIBRARIES = {"pycaret", "sklearn", "lightgbm"}
# The only places allowed to import them: the ML package, and the feature step pickled inside the pipeline.
ALLOWED = {PREDICTOR / "features.py"}


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_ml_package_and_the_feature_step_import_pycaret_or_scikit_learn():
    offenders = {
        str(path.relative_to(PREDICTOR.parent)): sorted(imported_top_level_names(path) & ML_LIBRARIES)
        for path in PREDICTOR.rglob("*.py")
        if (PREDICTOR / "ml") not in path.parents and path not in ALLOWED
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_ml_package_does_import_them_so_the_check_above_reads_real_imports():
    assert imported_top_level_names(PREDICTOR / "ml" / "training.py") >= {"pycaret", "sklearn", "lightgbm"}


def test_the_ml_package_knows_nothing_of_the_app_above_it():
    """ml/ may use the feature step and Django's settings, never models, services, views or the API."""
    for path in (PREDICTOR / "ml").glob("*.py"):
        tree = ast.parse(path.read_text())
        relative = {
            ("." * node.level) + (node.module or "")
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level
        }
        assert relative <= {
            ".artifacts", ".calibration", ".fast_path", ".forecast", ".interval", ".predict", ".stats", "..features"
        }, path.name
