"""Test support: agent processes, trees, SSE readers."""
