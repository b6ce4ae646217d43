"""The names a user types: VGG layers and weight sources, each defined once.

Torch-free on purpose, so that settings and their help (the CLI's --help, the studio's hints) can use
them without importing torch; the backbones build their networks and weight sources from these names.
"""

from __future__ import annotations

# Convolutions per block; a pooling layer closes each block (Simonyan & Zisserman's configurations D and E).
CONVS_PER_BLOCK = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}

# Weight sources: name -> (architecture, input convention). torchvision's ImageNet weights, the Caffe
# conversions of the original VGG weights, and a seeded random network.
WEIGHT_SOURCES = {
    "vgg19": ("vgg19", "torchvision"),
    "vgg16": ("vgg16", "torchvision"),
    "vgg19-caffe": ("vgg19", "caffe"),
    "vgg16-caffe": ("vgg16", "caffe"),
    "untrained": ("vgg19", "torchvision"),
}


def layer_names(arch: str) -> list[str]:
    """Every module of the VGG feature stack in order: conv1_1, relu1_1, ..., pool5 (torchvision's indices)."""
    names = []
    for block, convs in enumerate(CONVS_PER_BLOCK[arch], start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


# The layers a run may name: every ReLU output of VGG-19 (VGG-16 lacks relu3_4, relu4_4 and relu5_4).
LAYER_CHOICES = tuple(name for name in layer_names("vgg19") if name.startswith("relu"))


def block_of(layer: str) -> int:
    """The 1-based block a layer sits in: relu4_2 -> 4."""
    return int(layer.split("_")[0][-1])


def min_side(layers: list[str] | tuple[str, ...]) -> int:
    """The shortest image side the deepest of `layers` can see: each pooling before it halves the image,
    and a pooling needs at least two pixels (16 px for relu5_x, 8 for relu4_x)."""
    return 2 ** (max(block_of(name) for name in layers) - 1)
