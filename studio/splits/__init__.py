"""Splits: partition a project's images into train / val / test (framework-free).

- :mod:`studio.splits.schemas`: ``splits/<split_id>.json`` (:class:`SplitFile`) and ratios.
- :mod:`studio.splits.stratify`: the partition algorithms (pure functions on ids and labels):
  apportionment, the small-class rule, single-label stratification, target bins.
- :mod:`studio.splits.iterative`: multi-label iterative stratification (class presence).
- :mod:`studio.splits.planner`: from image records + task to a plan (strategy, counts, warnings).
- :mod:`studio.splits.dataset_reader`: reads the dataset records a split is made from.
- :mod:`studio.splits.store`: split files on disk, and the "used by an experiment" check.
- :mod:`studio.splits.manager`: preview / create / rename / delete / status on a workspace.

This package must not import Django, DRF, Channels or Dramatiq.
"""
