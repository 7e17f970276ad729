"""Fixtures of the chart tests: the chart loaded once, rendered once per values file."""

from __future__ import annotations

from collections.abc import Iterator

import helm_python as helm
import pytest

from tests.chart.rendering import CHART, RENDER_NAMES, Render, render_named


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def renders(chart: helm.Chart) -> dict[str, Render]:
    """Every render: the default values and each values file of the chart's ci/ folder."""
    return {name: render_named(chart, name) for name in RENDER_NAMES}


@pytest.fixture(params=RENDER_NAMES)
def each_render(request: pytest.FixtureRequest, renders: dict[str, Render]) -> Render:
    name: str = request.param
    return renders[name]
