"""Plain-language chat turned into task operations.

The deterministic parser always works; a configured OpenAI-compatible model is
tried first and, when it cannot be reached, the parser answers instead.
"""
