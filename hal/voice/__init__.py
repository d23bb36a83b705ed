"""Voice prompts: pre-rendered sound files per message id and language."""
from hal.voice.contract import Voice  # noqa: F401
