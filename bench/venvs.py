"""The peers' virtualenvs (`.venv-peer`, `.venv-temporal`), each built from its own lock file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def ensure_venv(venv: Path, lock: Path, root: Path) -> Path:
    """Builds `venv` from `lock` when missing or older than the lock; its python."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return python
    print(f"building {venv.name} from {lock.relative_to(root)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(lock)], check=True)
    stamp.touch()
    return python
