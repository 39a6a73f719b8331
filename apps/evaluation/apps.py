from django.apps import AppConfig


class EvaluationAppConfig(AppConfig):
    name = "apps.evaluation"
    label = "evaluation"
