"""The README documents every environment variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_CALL = re.compile(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


def _env_table() -> str:
    text = (ROOT / "README.md").read_text()
    parts = text.split("<!-- env-table -->")
    assert len(parts) >= 3, "README.md needs a table between <!-- env-table --> markers"
    return parts[1]


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1).split()
    assert first_block == ["scripts/start", "scripts/test"]
    for script in ("scripts/start", "scripts/test", ".ci/run"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_every_settings_variable_has_a_readme_row():
    documented = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", _env_table(), re.M))
    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(ENV_CALL.findall(path.read_text()))
    assert read, "found no env(...) calls; the scanner is broken"
    missing = sorted(read - documented)
    assert not missing, f"README.md env table lacks rows for: {', '.join(missing)}"


def test_scanner_sees_all_call_forms():
    sample = 'env("A") env.bool("B", default=1) env.int( "C") env.list("D") env.db("E")'
    assert ENV_CALL.findall(sample) == ["A", "B", "C", "D", "E"]
