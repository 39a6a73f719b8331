"""Runtime helpers: secrets, the embedded redis-server, process supervision (no Django)."""
