"""The test suite: one folder per package, plus integration/ (end to end) and reliability/ (faults)."""
