"""regate: a CI regression gate for AI-agent test platforms."""

__version__ = "0.1.0"
