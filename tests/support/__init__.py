"""Helpers shared by the tests: the CLI runner, seeds and exports, fault servers, the spec."""
