"""The house rules that keep the layout clear, checked on the source itself."""

import ast
import re
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
            ".artifacts", ".calibration", ".compare", ".drift", ".fairness", ".fairness_fit", ".fast_path", ".floor",
            ".forecast", ".interval", ".predict", ".stats", "..features",
        }, path.name


# ---------------------------------------------------------------------------
# The house: module sizes, layers, and one definition of each permission and limit

MAX_LINES = 350
# Each module's floor; a module may import only from its own floor or below. A module not named falls
# to the rule for its folder (the last matching prefix wins). Views and entry points are at the top.
FLOORS = {
    "": 0,  # models, features, forms, examples, csv_io, pg_copy, middleware, apps
    "security/permissions.py": 0,
    "security/client_ip.py": 0,
    "ml/": 1,
    "selectors.py": 2,
    "security/": 2,  # rate limits, tokens, the access log, the lockout page
    "serving.py": 3,
    "services.py": 4,
    "explanations.py": 4,
    "retention.py": 4,
    "batches/": 5,
    "forecasts/": 5,
    "actuals/": 5,
    "monitoring/": 5,
    "technical_file/": 5,
    "changes/": 5,
    "oversight/": 5,
    "views.py": 6,
    "batches/views.py": 6,
    "forecasts/views.py": 6,
    "actuals/views.py": 6,
    "monitoring/views.py": 6,
    "technical_file/views.py": 6,
    "changes/views.py": 6,
    "oversight/views.py": 6,
    "security/guards.py": 6,
    "templatetags/": 6,
    "sites.py": 7,
    "urls.py": 7,
    "admin/": 7,
    "api/": 7,
    "management/": 7,
}


def project_modules() -> dict[str, Path]:
    """Every module of predictor/ but the migrations, by its path from predictor/ ("forecasts/views.py")."""
    return {
        str(path.relative_to(PREDICTOR)): path
        for path in PREDICTOR.rglob("*.py")
        if "migrations" not in path.relative_to(PREDICTOR).parts
    }


def floor_of(name: str) -> int:
    matches = [prefix for prefix in FLOORS if name == prefix or (prefix.endswith("/") and name.startswith(prefix)) or prefix == ""]
    return FLOORS[max(matches, key=len)]


def resolve(name: str, modules: dict[str, Path], dotted: str) -> str | None:
    """The module (path from predictor/) that ``dotted`` (``predictor.x.y``) names, or None outside predictor/."""
    parts = dotted.split(".")
    if parts[0] != "predictor":
        return None
    base = "/".join(parts[1:])
    for candidate in (f"{base}.py", f"{base}/__init__.py" if base else "__init__.py"):
        if candidate in modules:
            return candidate
    return None


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules one module imports (a package's name is its __init__, a submodule named in
    ``from package import module`` is that module)."""
    package = ["predictor", *Path(name).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(modules[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(filter(None, (resolve(name, modules, alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            target = resolve(name, modules, base)
            for alias in node.names:
                found.add(resolve(name, modules, f"{base}.{alias.name}") or target)
    return {module for module in found if module and module != name}


def arrows() -> dict[str, set[str]]:
    """Who imports whom, with a package's __init__ seen through: importing it imports what it hands on."""
    modules = project_modules()
    direct = {name: imports_of(name, modules) for name in modules}

    def through(target: str, seen: frozenset = frozenset()) -> set[str]:
        if not target.endswith("__init__.py") or target in seen:
            return {target}
        handed_on = direct[target]
        return set().union(*(through(module, seen | {target}) for module in handed_on)) if handed_on else {target}

    return {name: set().union(*(through(module) for module in targets)) if targets else set() for name, targets in direct.items()}


def test_no_module_of_the_app_is_over_350_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in project_modules().items()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
    assert max(sizes.values()) > 200  # the count reads real modules


def test_no_arrow_runs_back_up_between_the_floors():
    upward = {
        (name, target): (floor_of(name), floor_of(target))
        for name, targets in arrows().items()
        for target in targets
        if not name.endswith("__init__.py") and floor_of(target) > floor_of(name)
    }
    assert upward == {}


def test_the_floors_read_real_arrows():
    graph = arrows()
    assert "forecasts/services.py" in graph["forecasts/views.py"]
    assert "security/ratelimit.py" in graph["services.py"]
    assert {"monitoring/views.py", "forecasts/views.py"} <= graph["sites.py"]
    # a package's face is seen through: the template tag imports the report behind monitoring/__init__.py
    assert "monitoring/report.py" in graph["templatetags/monitoring_tags.py"]


def test_no_modules_import_each_other_in_a_circle():
    graph = arrows()
    circles = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        for target in graph.get(name, ()):
            if target in path:
                circles.add(tuple(path[path.index(target):]))
            elif len(path) < 12:
                visit(target, (*path, target))

    for start in graph:
        if not start.endswith("__init__.py"):
            visit(start, (start,))
    assert circles == set()


PERMISSION = re.compile(r"^predictor\.(view|add|change|delete|record)_\w+$")


def test_each_permission_is_written_once_in_security_permissions():
    written = {
        (name, node.value)
        for name, path in project_modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and PERMISSION.match(node.value)
    }
    assert {name for name, _ in written} == {"security/permissions.py"}
    assert len({value for _, value in written}) == len(written)


def test_each_limit_and_constant_is_defined_in_one_module():
    """A module-level constant (an UPPER_CASE name) is defined once: another module that needs it imports it.
    Two constants of one name may only mean different things (their values differ)."""
    definitions: dict[str, dict[str, str]] = {}
    for name, path in project_modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.isupper():
                        definitions.setdefault(target.id, {})[name] = ast.unparse(node.value)
    repeated = {
        constant: places for constant, places in definitions.items() if len(places) > 1 and len(set(places.values())) < len(places)
    }
    assert repeated == {}
    assert "PROBLEMS_SHOWN" in definitions and len(definitions["PROBLEMS_SHOWN"]) == 1


def test_each_domain_package_says_in_its_docstring_what_each_of_its_modules_holds():
    packages = [PREDICTOR / name for name in ("actuals", "admin", "api", "batches", "changes", "forecasts", "monitoring", "oversight",
                                              "security", "technical_file")]
    unnamed = {}
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        modules = {path.stem for path in package.glob("*.py") if path.name != "__init__.py"}
        unnamed[package.name] = sorted(module for module in modules if f"``{module}``" not in docstring and f"``{module}.py``" not in docstring)
    assert {name: modules for name, modules in unnamed.items() if modules} == {}
