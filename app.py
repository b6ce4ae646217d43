"""Neural Style Studio: the entry point (`python app.py`, and the file Hugging Face Spaces runs).

Reads the server's limits, sets the process up, builds the page and launches it; the studio itself is the
`studio` package, the engine `nst_core`.
"""

import logging

from studio import Limits, build_demo, launch_options, set_up_process

limits = Limits.from_env()
set_up_process(limits)
demo = build_demo(limits)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    demo.launch(**launch_options(limits))
