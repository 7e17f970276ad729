"""Dapr's Multi-App Run template (`dapr.yaml`) parsed into dataclasses, without side effects.

The file is the one real `dapr run -f` reads, so field names, defaults and path rules
follow the Dapr CLI: relative paths in `common` resolve against the template's folder,
an app's own paths against its `appDirPath`, `appID` defaults to that folder's name, and
an app's shared settings fall back to `common`'s. Mistakes fail here, before anything
starts, with the field named (`apps[1].appPort: ...`). Fields the Dapr CLI knows but this
runner does not act on become one warning each; fields the Dapr CLI does not know at all
are errors, since they are almost always typos that would otherwise go unnoticed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SUPPORTED_VERSION = 1

# Per-app fields of the Dapr CLI's run template (RunConfig and the container settings).
_APP_FIELDS = frozenset(
    {
        "appID",
        "appDirPath",
        "appPort",
        "daprHTTPPort",
        "daprGRPCPort",
        "command",
        "appChannelAddress",
        "profilePort",
        "metricsPort",
        "unixDomainSocket",
        "daprInternalGRPCPort",
        "containerImage",
        "containerImagePullPolicy",
        "createService",
    }
)
# Fields allowed both in `common` and per app (the Dapr CLI's SharedRunConfig).
_SHARED_FIELDS = frozenset(
    {
        "configFilePath",
        "appProtocol",
        "apiListenAddresses",
        "enableProfiling",
        "logLevel",
        "appMaxConcurrency",
        "placementHostAddress",
        "resourcesPath",
        "resourcesPaths",
        "appSSL",
        "maxBodySize",
        "readBufferSize",
        "enableAppHealthCheck",
        "appHealthCheckPath",
        "appHealthProbeInterval",
        "appHealthProbeTimeout",
        "appHealthThreshold",
        "enableApiLogging",
        "runtimePath",
        "env",
        "daprdLogDestination",
        "appLogDestination",
        "schedulerHostAddress",
    }
)
_TOP_FIELDS = frozenset({"version", "common", "apps", "name"})
_HONOURED = frozenset(
    {
        "appID",
        "appDirPath",
        "appPort",
        "daprHTTPPort",
        "daprGRPCPort",
        "command",
        "appProtocol",
        "apiListenAddresses",
        "logLevel",
        "resourcesPath",
        "resourcesPaths",
        "maxBodySize",
        "env",
    }
)
# Fields only `--runtime daprd` acts on: they configure daprd (its Configuration file, the
# placement and scheduler it connects to); the embedded sidecar has nothing they could set.
DAPRD_FIELDS = frozenset({"configFilePath", "placementHostAddress", "schedulerHostAddress"})
# Used as a file name by the sidecar (`<app-id>.sqlite`), so stricter than daprd's "no dots".
_APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class TemplateError(ValueError):
    """The template cannot be run; the message starts with the offending field."""


@dataclass(frozen=True)
class PathField:
    """A resolved path with the template field it came from, for error messages."""

    field: str
    path: Path


@dataclass(frozen=True)
class AppSpec:
    """One app after `common` has been merged in; `None` means "not set anywhere"."""

    label: str
    app_id: str
    app_dir: Path
    command: tuple[str, ...]
    env: Mapping[str, str]
    app_port: int | None
    app_protocol: str | None
    dapr_grpc_port: int | None
    dapr_http_port: int | None
    metrics_port: int | None
    resources: tuple[PathField, ...]
    log_level: str | None
    listen_addresses: str | None
    max_body_size: str | None
    origins: Mapping[str, str] = field(default_factory=dict)
    # Read for `--runtime daprd` only (DAPRD_FIELDS).
    config_file: Path | None = None
    placement_host_address: str | None = None
    scheduler_host_address: str | None = None

    def where(self, name: str) -> str:
        """`apps[0].logLevel`, or `common.logLevel` when the value was inherited."""
        return f"{self.origins.get(name, self.label)}.{name}"


@dataclass(frozen=True)
class Template:
    base_dir: Path
    apps: tuple[AppSpec, ...]
    common_resources: tuple[PathField, ...]
    # Each field the Dapr CLI knows but this runner does not act on, with where it is set.
    ignored: Mapping[str, tuple[str, ...]]

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per field the embedded sidecar's run ignores."""
        return self.warnings_for("embedded")

    def warnings_for(self, runtime: str) -> tuple[str, ...]:
        """One line per field ignored when the sidecars are `runtime` (daprd honours
        DAPRD_FIELDS)."""
        honoured = DAPRD_FIELDS if runtime == "daprd" else frozenset()
        return tuple(
            f"ignoring {key} ({', '.join(places)}): `dapr run -f` supports it, this runner "
            f"does not with {runtime} sidecars"
            for key, places in self.ignored.items()
            if key not in honoured
        )


def load(path: Path) -> Template:
    """Reads and parses a template file; its folder anchors relative paths."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error.strerror}") from error
    return loads(text, path.resolve().parent)


def loads(text: str, base_dir: Path) -> Template:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TemplateError(f"not valid YAML: {error}") from error
    return parse(data, base_dir)


def parse(data: object, base_dir: Path) -> Template:
    """Validates a loaded YAML document and resolves it into a `Template`."""
    if not isinstance(data, dict):
        raise TemplateError("the template must be a mapping with 'version' and 'apps'")
    ignored: dict[str, list[str]] = {}
    _check_keys(data, _TOP_FIELDS, "", ignored)

    version = data.get("version")
    if version is None:
        raise TemplateError("version: required (use 1)")
    if version != SUPPORTED_VERSION or isinstance(version, bool):
        raise TemplateError(f"version: unsupported value {version!r} (use 1)")

    common = data.get("common", {})
    if common is None:
        common = {}  # `common:` with nothing under it
    if not isinstance(common, dict):
        raise TemplateError("common: must be a mapping")
    for key in common:
        if key in _APP_FIELDS:
            raise TemplateError(f"common.{key}: per-app field, not allowed in common")
    _check_keys(common, _SHARED_FIELDS, "common", ignored)
    common_env = _env(common.get("env"), "common.env")
    common_resources = _resources(common, "common", base_dir)

    apps = data.get("apps")
    if apps is None:
        raise TemplateError("apps: required (a list of apps)")
    if not isinstance(apps, list) or not apps:
        raise TemplateError("apps: must be a non-empty list")
    specs = tuple(
        _app(raw, f"apps[{index}]", base_dir, common, common_env, ignored)
        for index, raw in enumerate(apps)
    )
    _check_unique(specs)
    return Template(
        base_dir, specs, common_resources, {key: tuple(places) for key, places in ignored.items()}
    )


def _app(
    raw: object,
    label: str,
    base_dir: Path,
    common: Mapping[str, object],
    common_env: Mapping[str, str],
    ignored: dict[str, list[str]],
) -> AppSpec:
    if not isinstance(raw, dict):
        raise TemplateError(f"{label}: must be a mapping with at least appDirPath")
    _check_keys(raw, _APP_FIELDS | _SHARED_FIELDS, label, ignored)

    app_dir_text = _string(raw.get("appDirPath"), f"{label}.appDirPath")
    if not app_dir_text:
        raise TemplateError(f"{label}.appDirPath: required (the app's folder)")
    app_dir = _resolve(app_dir_text, base_dir)

    app_id = raw.get("appID", app_dir.name)
    if not isinstance(app_id, str) or not _APP_ID.match(app_id):
        source = "appID" if "appID" in raw else "appDirPath"
        raise TemplateError(
            f"{label}.{source}: app id {app_id!r} must be letters, digits, '-' or '_'"
        )

    origins: dict[str, str] = {}

    def shared(name: str) -> object:
        """The app's value, else `common`'s, remembering where it came from."""
        if raw.get(name) is not None:
            return raw[name]
        if common.get(name) is not None:
            origins[name] = "common"
            return common[name]
        return None

    command = raw.get("command")
    if command is None:
        command = []
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        raise TemplateError(
            f'{label}.command: must be a list of strings, e.g. ["python", "app.py"]'
        )

    resources = _resources(raw, label, app_dir)
    env = {**common_env, **_env(raw.get("env"), f"{label}.env")}
    config_file = _string(shared("configFilePath"), f"{label}.configFilePath")
    if config_file:  # the Dapr CLI resolves it like the resources paths
        config_file_path: Path | None = _resolve(
            config_file, base_dir if origins.get("configFilePath") else app_dir
        )
    else:
        config_file_path = None
    return AppSpec(
        label=label,
        app_id=app_id,
        app_dir=app_dir,
        command=tuple(command),
        env=env,
        app_port=_port(raw.get("appPort"), f"{label}.appPort"),
        app_protocol=_string(shared("appProtocol"), f"{label}.appProtocol"),
        dapr_grpc_port=_port(raw.get("daprGRPCPort"), f"{label}.daprGRPCPort"),
        dapr_http_port=_port(raw.get("daprHTTPPort"), f"{label}.daprHTTPPort"),
        metrics_port=_port(raw.get("metricsPort"), f"{label}.metricsPort"),
        resources=resources,
        log_level=_string(shared("logLevel"), f"{label}.logLevel"),
        listen_addresses=_string(shared("apiListenAddresses"), f"{label}.apiListenAddresses"),
        max_body_size=_scalar(shared("maxBodySize"), f"{label}.maxBodySize"),
        origins=origins,
        config_file=config_file_path,
        placement_host_address=_string(
            shared("placementHostAddress"), f"{label}.placementHostAddress"
        ),
        scheduler_host_address=_string(
            shared("schedulerHostAddress"), f"{label}.schedulerHostAddress"
        ),
    )


def _check_keys(
    mapping: Mapping[object, object],
    allowed: frozenset[str],
    where: str,
    ignored: dict[str, list[str]],
) -> None:
    """Unknown keys fail (with a suggestion); known-but-unsupported ones are noted once."""
    prefix = f"{where}." if where else ""
    for key in mapping:
        name = str(key)
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise TemplateError(f"{prefix}{name}: unknown field{hint}")
        if name not in _HONOURED and name not in _TOP_FIELDS:
            ignored.setdefault(name, []).append(where)


def _check_unique(apps: tuple[AppSpec, ...]) -> None:
    ids: dict[str, str] = {}
    ports: dict[int, str] = {}
    for app in apps:
        if app.app_id in ids:
            raise TemplateError(f"{app.label}.appID: '{app.app_id}' is also {ids[app.app_id]}'s id")
        ids[app.app_id] = app.label
        for name, port in (
            ("appPort", app.app_port),
            ("daprGRPCPort", app.dapr_grpc_port),
            ("daprHTTPPort", app.dapr_http_port),
        ):
            if port is None:
                continue
            where = f"{app.label}.{name}"
            if port in ports:
                raise TemplateError(f"{where}: port {port} is also {ports[port]}")
            ports[port] = where


def _resources(mapping: Mapping[str, object], where: str, base: Path) -> tuple[PathField, ...]:
    """`resourcesPaths` (list, or Dapr's comma-separated string) plus deprecated `resourcesPath`."""
    found: list[PathField] = []
    many = mapping.get("resourcesPaths")
    if isinstance(many, str):
        many = [part.strip() for part in many.split(",") if part.strip()]
    if many is not None:
        if not isinstance(many, list) or not all(isinstance(p, str) and p for p in many):
            raise TemplateError(f"{where}.resourcesPaths: must be a list of folder paths")
        found += [
            PathField(f"{where}.resourcesPaths[{i}]", _resolve(p, base)) for i, p in enumerate(many)
        ]
    one = _string(mapping.get("resourcesPath"), f"{where}.resourcesPath")
    if one:
        found.append(PathField(f"{where}.resourcesPath", _resolve(one, base)))
    return tuple(found)


def _resolve(text: str, base: Path) -> Path:
    """Like the Dapr CLI: `~` expands, relative paths hang off `base`; no filesystem access."""
    path = Path(os.path.expanduser(text))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _port(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise TemplateError(f"{where}: must be a port number 1-65535, got {value!r}")
    return value


def _string(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TemplateError(f"{where}: must be a string, got {value!r}")
    return value


def _scalar(value: object, where: str) -> str | None:
    """A string-typed field YAML may have read as a number (`maxBodySize: 4000000`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _string(value, where)


def _env(value: object, where: str) -> dict[str, str]:
    """Scalars become strings the way Go's YAML does it (`true`, not `True`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: must be a mapping of NAME: value")
    env: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            env[str(key)] = "true" if item else "false"
        elif item is None:
            env[str(key)] = ""
        elif isinstance(item, str | int | float):
            env[str(key)] = str(item)
        else:
            raise TemplateError(f"{where}.{key}: must be a string, number or boolean")
    return env
