"""Every relative link of the README, the docs pages and every other Markdown page of the
repository (results/, benchmarks/, ...) leads somewhere: the file or folder exists, and a
``#fragment`` names a heading of the page it points to (GitHub's anchors)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SKIPPED = {"runs", "outputs", "multirun", "node_modules"}
"""Folders of a working copy that are not the repository's pages (run directories, installs)."""
PAGES = sorted(
    page for page in ROOT.rglob("*.md") if not any(part.startswith(".") or part in SKIPPED for part in page.relative_to(ROOT).parts[:-1])
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def links(page: Path) -> list[str]:
    """The link targets of ``page``, outside fenced code blocks."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page``: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    headings = re.findall(r"^#{1,6} +(.+?) *#* *$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert broken == [], f"{page.relative_to(ROOT)}: broken links"


def test_the_readme_and_every_docs_page_are_checked():
    assert {ROOT / "README.md", *(ROOT / "docs").glob("*.md")} <= set(PAGES)


def test_the_anchors_are_githubs():
    assert {"comparing-trained-runs-comparepy-and-diagnosepy", "reading-the-tables"} <= anchors(ROOT / "docs" / "evaluation.md") | anchors(
        ROOT / "README.md"
    )
