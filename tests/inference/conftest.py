"""Inference tests share the CLI tests' model fixtures."""

from tests.cli.models import bundled_model, model_json  # noqa: F401
