"""Task definitions, one module per task; see ``registry``."""
