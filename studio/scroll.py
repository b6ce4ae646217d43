"""Bringing a running job into view: the JavaScript a Run button's click runs in the browser, before the job starts.

A job's column (its buttons, status line, picture and chart, top to bottom) is scrolled to the top of the screen
unless it is already on the screen from its top to the bottom of its last part. Knows no tab.
"""

from __future__ import annotations


def bring_into_view(column: str, last: str) -> str:
    """JS for a click's `js=`: scroll the element `column` (an elem_id) to the top of the screen unless it is in view
    down to the bottom of `last` (the elem_id of the lowest part that must be seen while the job runs)."""
    return (f"() => {{ const c = document.getElementById('{column}'), last = document.getElementById('{last}');\n"
            "  if (!c || !last) return;\n"
            "  if (c.getBoundingClientRect().top < 0 || last.getBoundingClientRect().bottom > window.innerHeight)\n"
            "    c.scrollIntoView({block: 'start'}); }")
