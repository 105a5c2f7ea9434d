"""The vendor stand-ins (fal, Replicate, OpenAI, Together, Hugging Face): one per vendor, shared by ``make stack``
(``stack/providers.py``) and the tests, each checked against the vendor's official SDK
(``tests/unit/providers/test_standins_sdk.py``)."""

from stack.standins.common import Shared
from stack.standins.fal import FAL_KEY
from stack.standins.hosts import StandIns
from stack.standins.huggingface import HF_TOKEN
from stack.standins.openai import OPENAI_KEY
from stack.standins.replicate import REPLICATE_SECRET, REPLICATE_TOKEN
from stack.standins.together import TOGETHER_KEY

__all__ = [
    "FAL_KEY",
    "HF_TOKEN",
    "OPENAI_KEY",
    "REPLICATE_SECRET",
    "REPLICATE_TOKEN",
    "TOGETHER_KEY",
    "Shared",
    "StandIns",
]
