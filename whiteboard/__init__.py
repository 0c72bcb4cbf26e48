"""whiteboard: a self-hosted, real-time collaborative whiteboard."""

__version__ = "0.1.0"
