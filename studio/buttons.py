"""A job's Run and Stop buttons, wired alike in every tab: Run greys out while its job runs and comes back after
it, whether the job finished, failed or was stopped; Stop cancels the job, then says what was kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

ENABLE = "() => ({__type__: 'update', interactive: true})"


def run_button(button: gr.Button, fn: Callable[..., Any], inputs: list, outputs: list, *, api_name: str,
               concurrency_limit: int, prepare: tuple[Callable[..., Any], list, list] | None = None) -> Any:
    """`button` starts `fn` on `inputs`, first greying itself out; the job's event is returned (for Stop, the
    history). What the last run left (its picture, download, chart) stays until the job replaces it: emptied
    here, at the click, it was lost to a run that was then refused. `prepare` (a handler, its inputs and
    outputs) runs in between, in the page's click alone: it may set some of `inputs` from other components."""

    def grey_out() -> Any:
        return gr.update(interactive=False)

    # No progress overlays: the job says how it is doing in its own status line, and after a failure Gradio's
    # overlay covered every output (the last picture too) with a red "Error" badge (studio.runner.JobRunner).
    event = button.click(grey_out, None, button, queue=False, api_visibility="private")
    if prepare is not None:
        event = event.then(*prepare, queue=False, show_progress="hidden", api_visibility="private")
    event = event.then(fn, inputs, outputs, api_name=api_name, concurrency_limit=concurrency_limit,
                       show_progress="hidden")
    # Gradio 6.31's page starts only .failure follow-ups after an error, never .then ones (Run stayed greyed
    # out after every refused input): both, in the browser alone, so a full queue cannot hold them up.
    event.then(None, None, button, js=ENABLE, api_visibility="private")
    event.failure(None, None, button, js=ENABLE, api_visibility="private")
    return event


def stop_button(button: gr.Button, event: Any, after: Callable[..., Any], outputs: list) -> None:
    """`button` cancels `event`'s job; then `after` fills `outputs` (what was kept). Cancelling with no handler
    of its own, then `after`: a Stop listener with both was overwritten by a late frame of the job."""
    button.click(None, None, None, cancels=[event], api_visibility="private").then(
        after, None, outputs, api_visibility="private")
