"""Framework-free ML core: task registry, model catalog, training, evaluation, export.

Workers and the CLI import it; it never imports Django.
"""
