"""The studio: a Gradio front end over nst_core. app.py assembles it; nothing here runs at import."""

from .limits import Limits, set_up_process
from .page import build_demo, launch_options

__all__ = ["Limits", "set_up_process", "build_demo", "launch_options"]
