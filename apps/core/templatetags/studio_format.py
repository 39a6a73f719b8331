"""Template filters of Studio's metric vocabulary (:mod:`studio.ml.vocabulary`).

``{% load studio_format %}``, then::

    {{ value|metric:"val_accuracy" }}   → "95.0 %"   (the number as every page writes it)
    {{ value|metric:name }}             → the metric named by a variable
    {{ name|metric_label }}             → "Validation accuracy"
    {{ name|metric_short }}             → "Val acc."
    {{ name|metric_help }}              → a tooltip sentence

The browser's ``StudioFormat`` (``static/studio/format.js``) writes the same text.
"""

from __future__ import annotations

from typing import Any

from django import template

from studio.ml import vocabulary

register = template.Library()


@register.filter
def metric(value: Any, name: str) -> str:
    return vocabulary.format_value(str(name), value)


@register.filter
def metric_label(name: Any) -> str:
    return vocabulary.metric_label(str(name))


@register.filter
def metric_short(name: Any) -> str:
    return vocabulary.metric_label(str(name), short=True)


@register.filter
def metric_help(name: Any) -> str:
    metric = vocabulary.lookup(str(name))
    return metric.help if metric else ""
