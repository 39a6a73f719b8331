"""Classification: one label per image. (Training parts arrive with the training issue.)"""

from __future__ import annotations


class ClassificationTask:
    name = "classification"
