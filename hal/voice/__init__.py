"""Voice: pre-rendered prompts by message id, texts synthesised at run time (Open JTalk for Japanese, espeak-ng
for the other languages), a neutral key click; volume and slower speech."""
from hal.voice.contract import Voice  # noqa: F401
