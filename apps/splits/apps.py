from django.apps import AppConfig


class SplitsConfig(AppConfig):
    name = "apps.splits"
    label = "splits"

    def ready(self) -> None:
        """Plug the split/subset filter into the dataset image list (``?split=…&subset=…``)."""
        from django.apps import apps

        if not apps.is_installed("apps.datasets"):
            return
        from apps.datasets import selectors as dataset_selectors
        from apps.splits.selectors import subset_filter

        dataset_selectors.register_subset_filter(
            lambda images, project_id, split_id, subset: subset_filter(
                images, project_id, split_id, subset, field="image_id"
            )
        )
