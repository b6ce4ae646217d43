"""What a teacher can read aloud beside each view: short, plain sentences, no formulas.

Plain text (a front end may render it as Markdown: nothing in it needs escaping). Knows nothing else.
"""

from __future__ import annotations

THIRD_IMAGE = (
    "Where is the third picture? With only a photo and a painting, how does the computer know which is "
    "content and which is style, without ever seeing the painting unpainted? The missing knowledge is inside "
    "the network. VGG was trained beforehand on over a million photos to recognise objects, and on the way it "
    "learned its own vocabulary: its first layers react to edges, colours and contrasts, its deep layers to "
    "parts of things, like windows, eyes and leaves. The photo's content is what the deep layers say is where; "
    "the painting's style is which of the network's patterns appear together. The trained network is the "
    "third picture."
)

GRAM = (
    "A Gram matrix is a table with one row and one column for each channel of a layer. Each square says how "
    "much those two channels light up in the same places, added up over the whole picture. Because it adds up "
    "over every position, it forgets where things are and keeps which patterns go together: that is texture, "
    "and that is what style transfer copies from the painting."
)

CAPTIONS = {
    "layers": (
        "What each layer sees. Each small square is one channel of the chosen layer: bright where it responds. "
        "Early layers (relu1, relu2) respond to edges and colours; deeper ones to bigger patterns and parts of "
        "things. The coloured table is the layer's Gram matrix. The last picture shows one channel laid over "
        "the picture. " + GRAM
    ),
    "channel": (
        "What a channel looks for. We start from faint noise and change the pixels, step by step, until one "
        "channel fires as strongly as it can. Channels of early layers ask for colours and stripes, deep ones "
        "for parts of things. This is the network looking back at us. Beside it: where that channel fires in "
        "your photo."
    ),
    "reconstruct": (
        "Content from each layer. Each picture starts as noise and is changed until the network, at one layer "
        "only, sees the same as in the photo. From relu1_1 the photo comes back almost pixel for pixel; from "
        "relu5_1 only the arrangement of things survives. Deep layers keep what is where, not the exact "
        "colours and edges, which is why style transfer takes its content from a deep layer and leaves the "
        "painting free to repaint the details. (A little smoothing removes fine noise the network cannot see.)"
    ),
    "texture": (
        "Style from growing sets of layers. These pictures start as noise and are changed until their Gram "
        "matrices match the painting's; there is no photo at all. With relu1_1 alone only colours and fine "
        "grain match; each deeper layer adds bigger strokes and shapes. Where things were is lost: a Gram "
        "matrix does not know. " + GRAM
    ),
    "shuffle": (
        "Style forgets layout. The painting is cut into tiles and shuffled. What the deep layers see, its "
        "content, changes completely (blue bar), but its Gram matrices hardly move (orange bar): the same "
        "patterns still appear together, only somewhere else. Textures grown from the two look alike."
    ),
    "compare": (
        "Why a trained network. The same job, from the same noise, on the trained VGG and on a VGG with random "
        "weights; then the trained one measures both pictures. The random one has no vocabulary: its channels mean "
        "nothing, so its picture ends further from the photo's content and from the painting's style than the "
        "trained one's (the two distances in the table; the line under it says so when they do). The knowledge is "
        "in the trained weights. " + THIRD_IMAGE
    ),
    "grid": (
        "The knobs as a grid. Every small picture is a whole style transfer. From left to right the style "
        "weight grows ten times per column; from top to bottom the content layer gets deeper (or the style "
        "uses more layers). Click a picture to load its settings into the Stylize tab, then press Run there "
        "for the same picture at that tab's size."
    ),
}
