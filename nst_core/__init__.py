"""nst_core: neural style transfer by pixel optimisation against a frozen VGG (Gatys et al. 2015, 2016).

The engine of the studio; it knows nothing about Gradio. Start with `stylize_iter` or `stylize`; look inside
the network with `activations` and `gram_matrices`.
"""

__version__ = "0.2.0"

from .config import Settings  # noqa: E402
from .engine import Progress, stylize, stylize_iter  # noqa: E402
from .errors import ImageError, NSTError, SettingsError, WeightsUnavailable  # noqa: E402
from .features import activations, gram_matrices  # noqa: E402

__all__ = ["Settings", "Progress", "stylize", "stylize_iter", "activations", "gram_matrices", "NSTError",
           "SettingsError", "ImageError", "WeightsUnavailable", "__version__"]
