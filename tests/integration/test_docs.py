"""The docs stay true to the code: the README's settings table is exactly what
`flowstate-gateway --config-markdown` prints, and every route in gateway/routes.c has a
section in docs/api.md."""

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
    routes = re.findall(r'\{METHOD_(GET|POST|PUT|DELETE), "([^"]+)"', (REPO / "gateway" / "routes.c").read_text())
    assert len(routes) > 10
    api = (REPO / "docs" / "api.md").read_text()
    missing = [f"{m} {p}" for m, p in routes if f"{m} {p}" not in api]
    assert not missing, f"routes without a section in docs/api.md: {missing}"
