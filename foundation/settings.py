"""Settings from the environment, with `pydantic-settings`, for every process.

A process declares its variables as a `BaseSettings` model and calls `load`: a value that
does not parse stops it at start-up with one line that names the variable and what is wrong
(`SettingsError`), never a traceback and never a silent default. `exit_on_error` turns that
line into the conventional exit code 2 for a `main`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

S = TypeVar("S", bound=BaseSettings)
T = TypeVar("T")

# Names matched in any case, empty values treated as unset, other variables ignored.
ENV = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)


class SettingsError(ValueError):
    """An environment variable that does not hold a valid value; the message names it."""


def load(model: type[S], env: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """`model` read from `env` (default: the process environment), `overrides` winning;
    `SettingsError` naming each bad variable otherwise."""
    try:
        if env is None:
            return model(**overrides)
        read = _reading(model, env)(**overrides)
    except ValidationError as error:
        raise SettingsError(_describe(model, error)) from None
    # Validated already: the values go into `model` itself, not the reading subclass.
    return model.model_construct(**dict(read))


def exit_on_error(read: Callable[[], T]) -> T:
    """`read()`, or the settings error on one stderr line and exit code 2."""
    try:
        return read()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            dict(self._mapping), self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _reading(model: type[S], env: Mapping[str, str]) -> type[S]:
    """`model`, reading its variables from `env` only (the tests' way in)."""

    class FromMapping(model):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, _MappingSource(settings_cls, env)

    FromMapping.__name__ = FromMapping.__qualname__ = model.__name__
    return FromMapping


def _describe(model: type[BaseSettings], error: ValidationError) -> str:
    prefix = str(model.model_config.get("env_prefix") or "")
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = f"{prefix}{field}".upper() if field in model.model_fields else field
        given = problem.get("input")
        shown = f"={given!r}" if isinstance(given, str) else ""
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}{shown}: {message}")
    return "; ".join(problems)
