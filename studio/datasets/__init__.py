"""Datasets: import, store and read a project's images (framework-free).

- :mod:`studio.datasets.images`: open + verify an image safely, sha256, thumbnail.
- :mod:`studio.datasets.store`: the dataset folder (``dataset.json``, content-addressed
  images, thumbnails, per-image records, import reports), staging and commit.
- :mod:`studio.datasets.importers`: one module per input format behind one interface,
  listed in a registry (one line per format).
- :mod:`studio.datasets.sources`: server folders, zip uploads (capped, zip-slip safe).
- :mod:`studio.datasets.dataset_import`: the pipeline (parse, process in parallel, commit).

The on-disk contract is :mod:`studio.storage.dataset_schemas`.
"""

# ``studio.storage.schemas`` must be imported before ``dataset_schemas``: importing
# ``dataset_schemas`` first (as a freshly spawned pool process does) hits the
# schemas -> dataset_schemas -> schemas cycle through ``ALL_SCHEMAS``.
import studio.storage.schemas  # noqa: F401
