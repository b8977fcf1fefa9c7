""".ci/install_torch.py (``make install``'s torch step) driven with a stub interpreter.

The stub stands in for the venv's python: ``-c 'import torch...'`` succeeds only when asked,
``-m pip install ARGS`` logs ARGS and refuses the first N calls. No network, no real venv.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "install_torch.py"
PROBE = ["--retries", "0", "--timeout", "15"]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

STUB = f"""#!{sys.executable}
import json, os, sys
log = os.environ["STUB_LOG"]
args = sys.argv[1:]
if args[:1] == ["-c"]:
    with open(log, "a") as f:
        f.write(json.dumps({{"import": args[1]}}) + "\\n")
    if os.environ.get("STUB_TORCH_IMPORTS") == "1":
        print("2.99.0+stub")
        sys.exit(0)
    sys.exit(1)
if args[:3] == ["-m", "pip", "install"]:
    with open(log) as f:
        calls = sum(1 for line in f if '"pip"' in line)
    with open(log, "a") as f:
        f.write(json.dumps({{"pip": args[3:]}}) + "\\n")
    sys.exit(1 if calls < int(os.environ.get("STUB_REFUSE", "0")) else 0)
sys.exit(99)
"""


@pytest.fixture
def recipe(tmp_path):
    """Run the recipe against the stub: (exit status, output, pip argument lists, import checks)."""
    stub = tmp_path / "python"
    stub.write_text(STUB)
    stub.chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def run(*args, refuse=0, torch_imports=False):
        log.write_text("")
        env = {**os.environ, "STUB_LOG": str(log), "STUB_REFUSE": str(refuse),
               "STUB_TORCH_IMPORTS": "1" if torch_imports else "0"}
        proc = subprocess.run([sys.executable, str(SCRIPT), "--python", str(stub), *args],
                              capture_output=True, text=True, env=env, timeout=60)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        pips = [c["pip"] for c in calls if "pip" in c]
        imports = [c["import"] for c in calls if "import" in c]
        return proc.returncode, proc.stdout + proc.stderr, pips, imports

    return run


def choice(pip_args):
    """Which of the three choices a pip call is (1, 2, 3)."""
    if "torch==2.13.0+cpu" in pip_args:
        return 1
    if CPU_INDEX in pip_args:
        return 2
    assert pip_args[-1] == "torch", pip_args
    return 3


def test_first_choice_is_the_cpu_wheel_and_stops_there(recipe):
    code, out, pips, imports = recipe()
    assert code == 0, out
    assert len(imports) == 1 and "import torch" in imports[0]  # checked first
    assert pips == [["-q", *PROBE, "torch==2.13.0+cpu"]]
    assert "installed torch==2.13.0+cpu from pip's configured indexes (choice 1 of 3)" in out
    assert "falling back" not in out


@pytest.mark.parametrize("refused", [1, 2])
def test_each_refused_choice_is_followed_by_the_next_and_it_finishes(recipe, refused):
    code, out, pips, _ = recipe(refuse=refused)
    assert code == 0, out
    assert [choice(p) for p in pips] == list(range(1, refused + 2))
    assert out.count("falling back to") == refused
    assert "falling back to torch from PyTorch's CPU index" in out
    if refused == 2:
        assert "falling back to plain torch from pip's indexes" in out
    assert f"(choice {refused + 1} of 3)" in out
    assert pips[1] == ["-q", *PROBE, "--index-url", CPU_INDEX, "torch"]


def test_every_choice_refused_exits_non_zero_with_the_list_tried(recipe):
    code, out, pips, _ = recipe(refuse=3)
    assert code == 1
    assert [choice(p) for p in pips] == [1, 2, 3]
    assert "install_torch: error: no torch could be installed; tried" in out
    assert "plain torch from pip's indexes (PyPI: on Linux the CUDA build, several GB): pip exit 1" in out
    assert "make install TORCH=" in out


def test_probes_do_not_retry_and_time_out_quickly(recipe):
    _, _, pips, _ = recipe(refuse=3)
    for probe in pips[:2]:
        assert probe[1:5] == PROBE  # one try, 15 s socket timeout
    assert "--retries" not in pips[2]  # the last choice keeps pip's retries ...
    assert pips[2][pips[2].index("--timeout") + 1] == "15"  # ... with the short timeout


def test_nothing_is_installed_when_torch_already_imports(recipe):
    code, out, pips, imports = recipe(refuse=3, torch_imports=True)
    assert code == 0
    assert pips == [] and len(imports) == 1
    assert "torch 2.99.0+stub already imports" in out and "nothing to install" in out


def test_extra_index_goes_to_the_first_choice_only(recipe):
    _, _, pips, _ = recipe("--extra-index-url", "file:///mirror", refuse=3)
    assert pips[0] == ["-q", *PROBE, "--extra-index-url", "file:///mirror", "torch==2.13.0+cpu"]
    assert all("file:///mirror" not in p for p in pips[1:])


def test_an_explicit_torch_is_installed_exactly_without_fallback(recipe):
    code, out, pips, imports = recipe("--torch", "torch", torch_imports=True)
    assert code == 0
    assert imports == []  # asked for explicitly: pip decides, even over an installed CPU torch
    assert pips == [["-q", "torch"]]
    code, out, pips, _ = recipe("--torch", "torch", refuse=1)
    assert code == 1 and pips == [["-q", "torch"]]
    assert "install_torch: error: pip could not install 'torch' (pip exit 1)" in out


def test_make_install_runs_the_recipe_and_passes_torch_through(missing):
    if shutil.which("make") is None:
        missing("make is not installed (apt-get install make)")
    def dry(*args):
        return subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent/venv", *args],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout

    default = dry()
    assert "/nonexistent/venv/bin/python .ci/install_torch.py" in default
    assert "--torch" not in default and "torch==" not in default
    gpu = dry("TORCH=torch", "TORCH_INDEX=https://example.invalid/whl")
    assert '--torch "torch" --extra-index-url "https://example.invalid/whl"' in gpu
