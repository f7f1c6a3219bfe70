"""`clinsim prompts`: list the parts, print a bundled template to start from, check a template
of one's own as a run would."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from clinsim.agents.prompts import PARTS, bundled_prompts
from clinsim.cli.main import app

cli = CliRunner()


def test_list_names_every_part() -> None:
    result = cli.invoke(app, ["prompts", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for key in PARTS:
        assert key in result.output
    assert "doctor.system.agentclinic.j2" in result.output


def test_show_prints_the_bundled_template_to_start_from(tmp_path: Path) -> None:
    result = cli.invoke(app, ["prompts", "show", "doctor.system", "--protocol", "agentclinic"])
    assert result.exit_code == 0
    assert result.output == bundled_prompts("doctor", "agentclinic").template("system").text
    judge = cli.invoke(app, ["prompts", "show", "judge.question"])
    assert judge.output == bundled_prompts("judge").template("question").text


def test_show_refuses_what_does_not_exist() -> None:
    assert "the doctor has no such part" in cli.invoke(app, ["prompts", "show", "doctor.x"]).output
    unused = cli.invoke(app, ["prompts", "show", "doctor.tool_code", "--protocol", "json"])
    assert unused.exit_code == 2 and "not used with the json protocol" in unused.output
    patient = cli.invoke(app, ["prompts", "show", "patient", "--protocol", "json"])
    assert patient.exit_code == 2 and "doctor's parts only" in patient.output


def test_check_runs_the_checks_of_a_run(tmp_path: Path) -> None:
    mine = tmp_path / "my-doctor.j2"
    shown = cli.invoke(app, ["prompts", "show", "doctor.system", "--protocol", "agentclinic"])
    mine.write_text(shown.output.replace("Dr. Agent", "Dr. Template"))
    args = ["prompts", "check", str(mine), "--part", "doctor.system", "--protocol", "agentclinic"]
    ok = cli.invoke(app, args)
    assert ok.exit_code == 0 and "a valid doctor.system template" in ok.output
    mine.write_text(shown.output.replace("DIAGNOSIS READY", "FINAL ANSWER"))
    bad = cli.invoke(app, args)
    assert bad.exit_code == 1 and "must contain 'DIAGNOSIS READY'" in bad.output


def test_the_readme_prompt_commands_run_as_written(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = re.findall(r"^(clinsim prompts .*?)(?:\s+#.*)?$", readme, flags=re.M)
    assert len(commands) == 3
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env={**os.environ, "PATH": path},
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
    assert (tmp_path / "my-doctor.j2").read_text().startswith("{#- A paraphrase of AgentClinic")
