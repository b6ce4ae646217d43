"""For the room: projector mode, the strip of this visitor's results from every tab, any two of them side by side,
and a time-lapse (GIF and MP4, step counter burnt in) of any run in the strip.

The strip follows the events of every kind of result the tabs declare (`studio.tab.Result`; finished or stopped
runs alike): the picture and the film of the run are the ones the tab left in the keepsakes, the caption the tab's.
It names no tab. Projector mode is a class on the page's body, styled in studio.css.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from nst_core import NSTError
from nst_core.timelapse import write_gif, write_mp4

from .files import ServedFiles
from .history import Entry, History, differences
from .jobs import session_of
from .keepsakes import Keepsakes
from .tab import Result, amount

PROJECTOR_JS = "(on) => { document.body.classList.toggle('projector', on); }"


class Room:
    def __init__(self, keepsakes: Keepsakes, files: ServedFiles) -> None:
        self.keepsakes, self.files = keepsakes, files
        self.history = History()

    def projector_toggle(self) -> gr.Checkbox:
        box = gr.Checkbox(False, label="Projector mode (large text for the back of the room)", elem_id="projector",
                          container=False, scale=1, min_width=320)
        box.change(None, box, None, js=PROJECTOR_JS, api_visibility="private")
        return box

    def build(self) -> None:
        """The strip, the side-by-side pair and the time-lapse, below the tabs."""
        with gr.Column(elem_id="room"):  # not a gr.Group: 6.31 draws its children with a 3 px black border
            self.strip = gr.Gallery(label="Your results, newest last: click one, then another, to compare them",
                                    columns=8, height="auto", allow_preview=False, object_fit="contain",
                                    elem_id="history")
            with gr.Row():
                left, right = (gr.Image(label=label, interactive=False, elem_id=elem_id, format="png", height=360)
                               for label, elem_id in (("First picked", "compare-a"), ("Second picked", "compare-b")))
            notes = gr.Markdown("Run something in any tab; each result lands in the strip.", elem_id="compare-notes")
            with gr.Row():
                make = gr.Button("Time-lapse of the last picked result", elem_id="timelapse-make")
            with gr.Row():
                gif = gr.Image(label="Time-lapse (GIF)", interactive=False, type="filepath", elem_id="timelapse-gif")
                mp4 = gr.Video(label="Time-lapse (MP4, loops)", interactive=False, autoplay=True, loop=True,
                               elem_id="timelapse-mp4")
        picked = gr.State([])
        self.strip.select(self.pick, picked, [picked, left, right, notes], api_visibility="private")
        make.click(self.timelapse, picked, [gif, mp4, notes], api_visibility="private")

    def follow(self, result: Result) -> None:
        """After each run of `result.event` (finished or stopped), put its result in the strip."""

        def record(request: gr.Request) -> Any:
            return self.record(result, request)

        result.event.then(record, None, self.strip, show_progress="hidden", api_visibility="private")

    def record(self, result: Result, request: gr.Request) -> Any:
        session = session_of(request)
        key = result.key(session)
        kept, film = self.keepsakes.last(key), self.keepsakes.film(key)
        if kept is None:
            return gr.skip()
        image, recipe, _, step = kept
        settings = {"tab": result.name, **result.settings(recipe)}
        if not self.history.add(session, image, result.caption(recipe, step), settings, film):
            return gr.skip()
        return self.strip_value(session)

    def strip_value(self, session: str) -> list[tuple[Any, str]]:
        return [(self.files.frame(entry.image, "webp"), entry.caption) for entry in self.history.entries(session)]

    def entry(self, session: str, index: int) -> Entry | None:
        entries = self.history.entries(session)
        return entries[index] if 0 <= index < len(entries) else None

    def pick(self, picked: list, request: gr.Request, evt: gr.SelectData) -> list:
        """Each click picks a result; the last two picked are shown side by side with what differs."""
        session = session_of(request)
        picked = [*(picked or [])[-1:], evt.index]
        chosen = [self.entry(session, i) for i in picked]
        if any(entry is None for entry in chosen):
            return [[], gr.skip(), gr.skip(), "That result is gone; pick another."]
        if len(chosen) == 1:
            first = chosen[0]
            return [picked, first.image, None, f"**{first.caption}**. Pick another to compare."]
        a, b = chosen
        kinds = a.settings.get("tab"), b.settings.get("tab")
        if kinds[0] == kinds[1]:
            head, changed = ":", differences(a.settings, b.settings)
        else:  # most of one kind's settings mean nothing to the other: compare those both have
            head = " (two kinds of result, so only the settings both have):"
            changed = differences(a.settings, b.settings, shared_only=True)
        lines = [f"- **{name}**: {show(x)} → {show(y)}" for name, x, y in changed] or ["- the same settings"]
        return [picked, a.image, b.image, f"**{a.caption}** against **{b.caption}**{head}\n" + "\n".join(lines)]

    def timelapse(self, picked: list, request: gr.Request) -> list:
        session = session_of(request)
        entries = self.history.entries(session)
        index = (picked or [len(entries) - 1])[-1]
        entry = self.entry(session, index)
        if entry is None or entry.film is None or not len(entry.film):
            return [gr.skip(), gr.skip(), "There is no run to make a time-lapse of yet; run something first."]
        try:
            gif = write_gif(entry.film, self.files.download_path("timelapse", ".gif"))
            mp4 = write_mp4(entry.film, self.files.download_path("timelapse", ".mp4"))
        except NSTError as error:
            return [gr.skip(), gr.skip(), str(error)]
        return [str(gif), str(mp4), f"Time-lapse of **{entry.caption}** ({len(entry.film)} frames)."]


def show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return amount(value) if isinstance(value, float) else str(value)
