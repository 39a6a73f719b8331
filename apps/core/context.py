"""Template context shared by every page."""

from typing import Any

from django.http import HttpRequest

import studio
from studio.ml import vocabulary

# the metric vocabulary, written once per page for static/studio/format.js
VOCABULARY = vocabulary.as_json()

# The per-project navigation, in workflow order. Each later feature fills its page.
PROJECT_SECTIONS: list[tuple[str, str]] = [
    ("dataset", "Dataset"),
    ("splits", "Splits"),
    ("training", "Training"),
    ("evaluation", "Evaluation"),
    ("export", "Export"),
]


def studio_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "studio_version": studio.__version__,
        "project_sections": PROJECT_SECTIONS,
        "vocabulary": VOCABULARY,
    }
