"""The docs stay true to the code: the README's settings table is exactly what
`flowstate-gateway --config-markdown` prints, every route in gateway/routes.c has a
section in docs/api.md, and the README and docs point only at files the repository has."""

import re
import subprocess

from fsutil import GATEWAY_BIN, REPO, child_env


def test_readme_settings_table_matches_the_binary():
    out = subprocess.run([str(GATEWAY_BIN), "--config-markdown"], env=child_env(), capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    readme = (REPO / "README.md").read_text()
    assert out.stdout.strip() in readme, (
        "README.md's configuration table is stale: paste the output of "
        "`build/bin/flowstate-gateway --config-markdown`")


def test_every_route_is_documented():
    routes = re.findall(r'\{METHOD_(GET|POST|PUT|PATCH|DELETE), "([^"]+)"', (REPO / "gateway" / "routes.c").read_text())
    assert len(routes) > 10
    api = (REPO / "docs" / "api.md").read_text()
    missing = [f"{m} {p}" for m, p in routes if f"{m} {p}" not in api]
    assert not missing, f"routes without a section in docs/api.md: {missing}"


def markdown_docs():
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_every_relative_link_points_to_a_file():
    broken = []
    for doc in markdown_docs():
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            if not (doc.parent / target.split("#")[0]).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert not broken, f"links to files that do not exist: {broken}"


def test_every_markdown_file_named_exists():
    """A document cited by name (not linked), e.g. "see DESIGN.md", must be in the repository."""
    have = {p.name for p in REPO.rglob("*.md") if not {".git", "build"} & set(p.relative_to(REPO).parts)}
    missing = [f"{doc.relative_to(REPO)}: {name}" for doc in markdown_docs()
               for name in re.findall(r"\b([\w.-]+\.md)\b", doc.read_text()) if name not in have]
    assert not missing, f"documents named that the repository does not have: {missing}"
