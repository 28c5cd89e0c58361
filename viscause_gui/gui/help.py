"""Texts that explain the method in the app: the F1 help and the first start's hint, both for the
data set that is open, and the readout's tooltip."""
from __future__ import annotations

import html

from viscause_gui.core.data.dataset import Dataset

HELP_INTRO = """
<h3>Visual causal feature learning</h3>
<p>A behaviour T (a person says "yes", a neuron fires) depends on features of an image. Some
features <i>cause</i> T: changing them in the image changes T. Others only <i>correlate</i> with
T because a hidden variable drives both the image and T.</p>
<p><b>Observational classes</b> group images with equal P(T=1 | I) — what ordinary
classification learns. <b>Causal classes C</b> group images with equal P(T=1 | man(I)), the
probability when we <i>set</i> the pixels ourselves (an experiment). Within a causal class, the
<b>spurious class S</b> tells which observational class an image belongs to.</p>
"""

HELP_ALGORITHMS = """
<p>Algorithm 1 asks an oracle (an experiment, a person, or the truth for GRATING) about
{asked} per observational class (more where their answers disagree) and trains a causal net C.
Algorithm 2 manipulates images towards another causal class (trading closeness against reaching
the class with α), asks the oracle again and retrains.</p>
"""

HELP_GRATING = """
<p>In GRATING the h-bar causes T; the v-bar is a trace of a hidden cause of T, so it predicts T
just as well but is spurious. Draw on the canvas and watch C and S.</p>
"""

HELP_DIGITS = """
<p><b>{name}</b> has digits with labels and no T of its own: T = 1 for label {label} (the Learning
panel's <i>T = 1 for label</i>), so P(T=1 | I) of an image of the data set is read off its label and
the observational classes are "a {label}" and "not a {label}". The oracle says whether an image
shows a {label}; the causal classes group the images that do when we draw them ourselves. Draw on
the canvas and watch C and P(T=1 | man(I)).</p>
"""

HELP_COLOUR = """
<p>In Colored MNIST the digit's shape causes T and its colour only correlates: on colour data the
swatch (C) picks the pen's colour and the eyedropper (O) takes a colour from the image.</p>
"""

HELP_OUTCOMES = """
<p>Here T has <b>{k} outcomes</b> ({names}). Every P(T=1 | …) above is then a distribution over them,
P(T | I) and P(T | man(I)), shown as bars in the readout; classes group images with equal
distributions, and a manipulation moves an image into the causal class whose outcomes it should
change to.</p>
"""

HELP_LESSONS = """
<p><b>Lessons</b> tell the paper's story step by step (Help → Lessons; View → Presenter mode, F11,
for a projector): <a href="viscause-lesson:barometer">Barometer</a>,
<a href="viscause-lesson:causal_coarsening">The Causal Coarsening Theorem</a>,
<a href="viscause-lesson:learning_to_manipulate">Learning to manipulate</a>,
<a href="viscause-lesson:digits">Digits</a>.</p>
<p>Chalupka, Perona, Eberhardt: <i>Visual Causal Feature Learning</i>, UAI 2015.</p>
"""


def is_grating(dataset: Dataset | None) -> bool:
    return dataset is not None and (dataset.meta or {}).get("source") == "grating"


def digit_label(dataset: Dataset | None, positive_label: int | None) -> int | None:
    """The label that is T = 1 when the open data set has labels and no T of its own (digit mode)."""
    if dataset is None or dataset.labels is None or positive_label is None:
        return None
    return int(positive_label)


def help_html(dataset: Dataset | None, positive_label: int | None, representatives: int) -> str:
    """F1 help for the data set that is open; `representatives`: Algorithm 1's images per
    observational class in the next run's settings."""
    asked = f"{representatives} image{'s' if representatives != 1 else ''}"
    label = digit_label(dataset, positive_label)
    if label is not None:
        about_data = HELP_DIGITS.format(name=html.escape(dataset.name), label=label)
    elif is_grating(dataset):
        about_data = HELP_GRATING
    elif dataset is not None and dataset.is_colour:
        about_data = HELP_COLOUR
    else:
        about_data = HELP_GRATING + HELP_COLOUR       # no data set of those open: the built-in examples
    if dataset is not None and dataset.n_outcomes > 2:
        about_data = HELP_OUTCOMES.format(k=dataset.n_outcomes, names=html.escape(", ".join(dataset.outcome_names)))
    return HELP_INTRO + HELP_ALGORITHMS.format(asked=asked) + about_data + HELP_LESSONS


def start_hint_html(dataset: Dataset | None, positive_label: int | None) -> str:
    """The first start's hint: a first step on the data set that is open."""
    label = digit_label(dataset, positive_label)
    if label is not None:
        first = (f"T = 1 for label {label}. Press <b>F4</b> (Run Algorithm 1): the oracle says which images show a "
                 f"{label}. Then change a digit on the canvas: P(T=1 | man(I)) says whether it still shows a {label}.")
    elif dataset is not None and dataset.n_outcomes > 2:
        first = (f"press <b>F4</b> (Run Algorithm 1), then change the image on the canvas and compare the bars of "
                 f"P(T | I) and P(T | man(I)) over T's {dataset.n_outcomes} outcomes.")
    elif dataset is None or is_grating(dataset):
        first = ("press <b>F4</b> (Run Algorithm 1), then draw a v-bar on the canvas (V): P(T=1 | I) rises, "
                 "P(T=1 | man(I)) does not.")
    else:
        first = ("press <b>F4</b> (Run Algorithm 1), then change the image on the canvas and compare P(T=1 | I) "
                 "with P(T=1 | man(I)).")
    return f"<b>First step:</b> {first} Or let a lesson tell the story."


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
