"""The public assistant: red flags first, then dose refusal, locator, KB retrieval or fallback."""
