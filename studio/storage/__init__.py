"""Framework-free workspace store: paths, atomic JSON IO, locks, schemas.

The workspace folder is the source of truth; nothing here imports Django.
"""
