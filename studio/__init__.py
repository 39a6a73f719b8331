"""Studio: a self-hosted computer-vision training studio (Django project + framework-free core)."""

__version__ = "0.1.0"
