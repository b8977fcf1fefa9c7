"""Install a CPU torch into a virtual environment, falling back quickly: ``make install`` runs it.

    python .ci/install_torch.py                    # into this interpreter's environment
    python .ci/install_torch.py --python .venv/bin/python
    python .ci/install_torch.py --torch torch      # exactly this requirement (a GPU machine)

The package asks for any ``torch>=2.1``; left to pip, a CPU-only Linux machine would download
several GB of CUDA libraries. So torch is installed first, the first of these that works:

1. ``torch==2.13.0+cpu`` from pip's configured indexes (``--extra-index-url URL`` adds one);
2. the newest ``torch`` from PyTorch's CPU index (https://download.pytorch.org/whl/cpu);
3. plain ``torch`` from pip's indexes (PyPI: on Linux the CUDA build, several GB).

Choices 1 and 2 are probes: pip runs them with ``--retries 0 --timeout 15``, so an index that
does not answer costs seconds, not pip's minutes of retries; each refused choice prints one line
that names the next. Choice 3, the last, keeps pip's retries (a download of GB may need one) with
the same 15 s timeout. Nothing is installed when ``import torch``
already works in the environment. ``--torch SPEC`` (``make install TORCH=...``) installs exactly
``SPEC``, with pip's own retries and no fallback: on a GPU machine ``--torch torch`` gets the CUDA
build from PyPI, and a CPU build is never put in its place. Exit status 0 once torch is installed,
1 when every choice failed. Only the standard library is used (it runs before anything else is
installed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

#: choice 1: the CPU wheel with a local version, on pip's configured indexes where they carry it
CPU_WHEEL = "torch==2.13.0+cpu"
#: choice 2: PyTorch's own index of CPU-only wheels
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: pip options of a probe: one try, a short socket timeout (seconds)
PROBE = ("--retries", "0", "--timeout", "15")

NAME = "install_torch"


def say(message: str) -> None:
    print(f"{NAME}: {message}", flush=True)


def torch_imports(python: str) -> str | None:
    """The version of the torch ``python`` imports, or None when it has none."""
    proc = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or "unknown version"


def pip_install(python: str, *args: str) -> int:
    """``python -m pip install -q ARGS``; pip's output goes to the terminal; its exit status."""
    return subprocess.run([python, "-m", "pip", "install", "-q", *args]).returncode


def choices(extra_index=None) -> list[tuple[str, list[str]]]:
    """(what to print, pip arguments) of each choice, in order."""
    extra = ["--extra-index-url", extra_index] if extra_index else []
    return [
        (f"{CPU_WHEEL} from pip's configured indexes", [*PROBE, *extra, CPU_WHEEL]),
        (f"torch from PyTorch's CPU index ({CPU_INDEX})",
         [*PROBE, "--index-url", CPU_INDEX, "torch"]),
        ("plain torch from pip's indexes (PyPI: on Linux the CUDA build, several GB)",
         ["--timeout", PROBE[3], "torch"]),
    ]


def install(python: str, torch: str | None = None, extra_index: str | None = None) -> int:
    """Install torch into ``python``'s environment; the exit status (0: installed)."""
    if torch:
        extra = ["--extra-index-url", extra_index] if extra_index else []
        say(f"installing {torch} as asked (no fallback)")
        code = pip_install(python, *extra, torch)
        if code:
            say(f"error: pip could not install {torch!r} (pip exit {code}); check the "
                "requirement and the network, or leave TORCH unset for the CPU fallbacks")
            return 1
        return 0
    version = torch_imports(python)
    if version is not None:
        say(f"torch {version} already imports in {python}; nothing to install")
        return 0
    tried = []
    options = choices(extra_index)
    for i, (what, args) in enumerate(options):
        if i == 0:
            say(f"trying {what}")
        code = pip_install(python, *args)
        if code == 0:
            say(f"installed {what} (choice {i + 1} of {len(options)})")
            return 0
        tried.append(f"{what}: pip exit {code}")
        if i + 1 < len(options):
            say(f"{what} failed (pip exit {code}); falling back to {options[i + 1][0]}")
    say("error: no torch could be installed; tried " + "; ".join(tried) + ". Check the network "
        "or pip's index settings, or name a torch that works: make install TORCH=... "
        "(and TORCH_INDEX=URL for an extra index)")
    return 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="install_torch.py", description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter of the environment to install into (default: this one)")
    ap.add_argument("--torch", default=None, metavar="SPEC",
                    help="install exactly this requirement, no fallback (e.g. torch: CUDA on a "
                    "GPU machine)")
    ap.add_argument("--extra-index-url", default=None, metavar="URL",
                    help="an index pip reads besides its configured ones")
    args = ap.parse_args(argv)
    return install(args.python, args.torch, args.extra_index_url)


if __name__ == "__main__":
    sys.exit(main())
