"""The studio's tabs, a module each (each a `studio.tab.Tab`), and their order on the page."""

from __future__ import annotations

from ..tab import Shared, Tab
from .explain import ExplainTab
from .fast import FastTab
from .stylize import StylizeTab
from .video import VideoTab


def studio_tabs(shared: Shared) -> list[Tab]:
    """The page's tabs, in order. Explain shows the Stylize tab's photo and painting, and loads settings into it."""
    stylize = StylizeTab(shared)
    return [stylize, ExplainTab(shared, stylize), FastTab(shared), VideoTab(shared)]
