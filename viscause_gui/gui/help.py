"""Texts that explain the method in the app: the F1 help and the readout's tooltip."""
from __future__ import annotations

HELP_HTML = """
<h3>Visual causal feature learning</h3>
<p>A behaviour T (a person says "yes", a neuron fires) depends on features of an image. Some
features <i>cause</i> T: changing them in the image changes T. Others only <i>correlate</i> with
T because a hidden variable drives both the image and T.</p>
<p><b>Observational classes</b> group images with equal P(T=1 | I) — what ordinary
classification learns. <b>Causal classes C</b> group images with equal P(T=1 | man(I)), the
probability when we <i>set</i> the pixels ourselves (an experiment). Within a causal class, the
<b>spurious class S</b> tells which observational class an image belongs to.</p>
<p>Algorithm 1 asks an oracle (an experiment, a person, or the truth for GRATING) about one
image per observational class and trains a causal net C. Algorithm 2 manipulates images
towards another causal class (trading closeness against reaching the class with α), asks the
oracle again and retrains.</p>
<p>In GRATING the h-bar causes T; the v-bar is a trace of a hidden cause of T, so it predicts T
just as well but is spurious. Draw on the canvas and watch C and S. In Colored MNIST the
digit's shape causes T and its colour only correlates: on colour data the swatch (C) picks the
pen's colour and the eyedropper (O) takes a colour from the image.</p>
<p><b>Lessons</b> tell the paper's story step by step (Help → Lessons; View → Presenter mode, F11,
for a projector): <a href="viscause-lesson:barometer">Barometer</a>,
<a href="viscause-lesson:causal_coarsening">The Causal Coarsening Theorem</a>,
<a href="viscause-lesson:learning_to_manipulate">Learning to manipulate</a>,
<a href="viscause-lesson:digits">Digits</a>.</p>
<p>Chalupka, Perona, Eberhardt: <i>Visual Causal Feature Learning</i>, UAI 2015.</p>
"""


HELP_TEXT = (
    "<b>What the readout means</b><br>"
    "<b>P(T=1 | I)</b>: how likely the behaviour T is when this image is <i>observed</i> "
    "(learned from the data; hidden causes that come with the image count too).<br>"
    "<b>P(T=1 | man(I))</b>: how likely T is when we <i>set</i> the pixels to this image "
    "ourselves (an experiment); only the visual cause matters.<br>"
    "<b>C</b>: the causal class (images with equal P(T=1 | man(I))). "
    "<b>S</b>: the spurious class: which observational class inside C the image belongs to "
    "(predictive of T, but not a cause).<br>"
    "In GRATING the h-bar is the cause; the v-bar only correlates with T through a hidden variable."
)
