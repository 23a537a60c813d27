"""Ovens: the worker loop, its scheduler jobs (heartbeat, reaper), waiting, recipes, and oven processes."""
