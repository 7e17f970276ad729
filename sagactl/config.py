"""sagactl's config file: where the API is and the token to send, so neither has to be
typed or left in the shell's history.

`$SAGACTL_CONFIG`, else `$XDG_CONFIG_HOME/sagactl/config.yaml` (`~/.config/sagactl/
config.yaml`):

    apiUrl: https://saga.example.com
    token: eyJhbGciOi...            # or:
    tokenFile: ~/.config/sagactl/token

Flags win over the environment (`SAGA_API_URL`, `SAGA_API_TOKEN`), which wins over the
file. A file readable by others is refused while it holds a token, as ssh refuses a key.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml


class ConfigError(Exception):
    """The config file exists but cannot be used."""


@dataclass(frozen=True)
class Config:
    api_url: str | None = None
    token: str | None = None


def config_path() -> Path:
    explicit = os.environ.get("SAGACTL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sagactl" / "config.yaml"


def load_config(path: Path | None = None) -> Config:
    """The config at `path` (default `config_path()`); empty when there is no file."""
    path = path or config_path()
    if not path.is_file():
        return Config()
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping (apiUrl, token, tokenFile)")
    token = document.get("token")
    token_file = document.get("tokenFile")
    if token_file and not token:
        token_path = Path(str(token_file)).expanduser()
        try:
            token = token_path.read_text().strip()
        except OSError as error:
            raise ConfigError(f"{path}: tokenFile {token_path}: {error.strerror}") from None
        _private(token_path)
    if token:
        _private(path)
    url = document.get("apiUrl")
    return Config(api_url=str(url) if url else None, token=str(token) if token else None)


def _private(path: Path) -> None:
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} holds a token and is readable by others: chmod 600 {path}")
