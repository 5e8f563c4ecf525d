"""MSP Mode: persistent, self-learning memory for MSP technicians who work through AI agents."""

__version__ = "0.1.0"
