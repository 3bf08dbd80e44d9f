"""The documentation: a short README that links to every page of the MkDocs site in docs/, each page in
mkdocs.yml's nav, and the result page's screenshot. `make test` also builds the site with --strict, which
fails on a broken link or anchor inside docs/; the README's own links are checked here."""

import re
from pathlib import Path

import pytest
import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SCREENSHOT = DOCS / "images" / "result-page.png"
# Other work relies on these names (tests read docs/deploy.md's connection budget table).
PAGES = [
    "index.md",
    "using.md",
    "api.md",
    "forecasts.md",
    "model.md",
    "monitoring.md",
    "model-changes.md",
    "fairness.md",
    "oversight.md",
    "technical-file.md",
    "performance.md",
    "security.md",
    "configuration.md",
    "container-image.md",
    "deploy.md",
    "layout.md",
]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```.*?^\s*```", re.MULTILINE | re.DOTALL)


def nav_files(nav) -> list[str]:
    """Every file named in mkdocs.yml's nav, however deeply nested."""
    files = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        files.extend(nav_files(value) if isinstance(value, list) else [value])
    return files


def readme_links() -> list[str]:
    return LINK.findall(FENCE.sub("", README.read_text()))


def headings_anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slugify(match, "-") for match in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)}


def test_the_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES)
def test_each_page_exists_and_is_in_the_nav(page):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    assert (DOCS / page).is_file()
    assert page in nav_files(config["nav"])


@pytest.mark.parametrize("page", PAGES)
def test_the_readme_links_to_each_page(page):
    targets = {link.split("#")[0] for link in readme_links()}

    assert f"docs/{page}" in targets


def test_the_readmes_relative_links_reach_a_file_and_a_heading():
    for link in readme_links():
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), link
        if anchor:
            assert anchor in headings_anchors(target), link


def test_the_screenshot_is_a_small_png_shown_in_the_readme_and_on_the_using_page():
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size < 200_000
    assert "docs/images/result-page.png" in readme_links()
    assert "images/result-page.png" in LINK.findall((DOCS / "using.md").read_text())
