"""The metric vocabulary on the web side: the template filters, the JSON copy in every page,
and ``static/studio/format.js`` writing exactly what :mod:`studio.ml.vocabulary` writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.template import Context, Template

from studio.ml import vocabulary
from studio.ml.vocabulary import format_in_units, format_value, metric_label

# values that probe every format: rounding ties, zeros, negatives, large, tiny, missing
VALUES: list[float | int | None] = [
    0, 1, 0.5, 0.0625, 0.9995, 0.94964, 0.123456789, -4.2, -0.00001, 3.5, 12.0, 0.012345,
    123.4, 1234.5678, 98765.4321, 1e-7, 2.675, 1.005, None,
]  # fmt: skip


def cases() -> list[tuple[str, float | int | None]]:
    names = [*vocabulary.METRICS, "val_accuracy", "train_loss", "val_mae", "test_r2", "unknown_x"]
    return [(n, v) for n in names for v in VALUES]


def test_filters_render_the_vocabulary() -> None:
    template = Template(
        '{% load studio_format %}{{ v|metric:"val_accuracy" }}|{{ n|metric_label }}|'
        '{{ n|metric_short }}|{{ loss|metric:"val_loss" }}|{{ none|metric:"mae" }}|'
        '{{ "auroc"|metric_help }}'
    )
    text = template.render(Context({"v": 0.9496, "n": "val_average_precision", "loss": 0.23456}))
    assert text.split("|")[:5] == ["95.0 %", "Validation average precision", "Val AP", "0.2346",
                                   "\u2013"]  # fmt: skip
    assert "ROC" in text.split("|")[5]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_js_formatter_agrees_with_python(logged_in_page: Any) -> None:
    page = logged_in_page
    page.goto(f"{page.base_url}/")
    # the JSON copy in the page is the Python vocabulary
    data = json.loads(page.locator("#studio-vocabulary").text_content())
    assert data == json.loads(json.dumps(vocabulary.as_json()))

    all_cases = cases()
    js = page.evaluate(
        "(cases) => cases.map(([n, v]) => [StudioFormat.value(n, v), StudioFormat.label(n),"
        " StudioFormat.short(n)])",
        [list(c) for c in all_cases],
    )
    py = [[format_value(n, v), metric_label(n), metric_label(n, short=True)] for n, v in all_cases]
    mismatches = [(c, j, p) for c, j, p in zip(all_cases, js, py, strict=True) if j != p]
    assert not mismatches, mismatches[:10]
    assert len(js) > 500

    scaled = [(v, s) for v in VALUES for s in (3.5, 0.0123, 123.4, 0, None)]
    js_units = page.evaluate(
        "(cases) => cases.map(([v, s]) => StudioFormat.inUnits(v, s))", [list(c) for c in scaled]
    )
    assert js_units == [format_in_units(v, s) for v, s in scaled]
