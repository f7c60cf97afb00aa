"""The step player's HTML and the animated SVG, checked as text (no browser, no Graphviz): the frames'
sizes, the captions without a second step count, the controls. tests/test_step_player_browser.py
uses them in Chromium."""
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import autograd as ag
from autograd.step_player import animated_svg, caption_text, frame_caption, player_html, player_page

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def graphviz_like_svg(width, height, text):
    """An SVG shaped as Graphviz writes one: a size in points and a viewBox in points."""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            f'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
            f'<svg width="{width}pt" height="{height}pt" viewBox="0.00 0.00 {width}.00 {height}.00" '
            f'xmlns="http://www.w3.org/2000/svg"><g id="graph0" class="graph"><text x="1" y="1">{text}</text>'
            f'</g></svg>')


def test_animated_svg_sizes_each_frame_in_the_outer_user_units():
    svg = ET.fromstring(animated_svg([graphviz_like_svg(1568, 222, "a"), graphviz_like_svg(1500, 230, "b"),
                                      graphviz_like_svg(1400, 200, "c")], interval=1.0))
    assert (svg.get("width"), svg.get("height"), svg.get("viewBox")) == ("1568pt", "230pt", "0 0 1568 230")
    frames = svg.findall(f"{SVG}svg")
    # inside the outer viewBox one user unit is one point: "1568pt" there would be drawn 4/3 too large
    assert [(f.get("width"), f.get("height")) for f in frames] == [("1568", "222"), ("1500", "230"),
                                                                    ("1400", "200")]
    assert [f.get("viewBox") for f in frames] == ["0.00 0.00 1568.00 222.00", "0.00 0.00 1500.00 230.00",
                                                  "0.00 0.00 1400.00 200.00"]
    assert [f.find(f"{SVG}g").get("id") for f in frames] == ["step0_graph0", "step1_graph0", "step2_graph0"]
    # 1 s a step, the last held 3 s: 5 s in all
    animations = [f.find(f"{SVG}animate") for f in frames]
    assert {a.get("dur") for a in animations} == {"5s"}
    assert [a.get("keyTimes") for a in animations] == ["0;0.200000", "0;0.200000;0.400000", "0;0.400000"]
    assert [f.get("visibility") for f in frames] == ["hidden", "hidden", "visible"]


def test_animated_svg_refuses_lengths_it_cannot_place():
    with pytest.raises(ValueError, match="points"):
        animated_svg([graphviz_like_svg(100, 50, "a").replace('width="100pt"', 'width="3in"')])


class FakeStep:
    def __init__(self, lines):
        self.caption_lines = lines


class FakeSteps(list):
    """What the player reads of BackwardSteps: its steps and their SVGs."""

    def svgs(self, caption=True):
        assert caption is False, "the player shows the caption as text, not inside the drawing"
        return [graphviz_like_svg(600 + 10 * i, 150, f"frame {i}") for i in range(len(self))]


def test_the_caption_shows_the_step_count_once():
    assert caption_text(FakeStep(["step 1/10: h = tanh(z) = 0.7071,  h.grad = 1", "z.grad += 0.5"])) == \
        ["h = tanh(z) = 0.7071,  h.grad = 1", "z.grad += 0.5"]
    assert caption_text(FakeStep(["h = tanh(z)"])) == ["h = tanh(z)"]      # already without a count
    assert caption_text(FakeStep(["step 3 of 9: x is a leaf"])) == ["x is a leaf"]
    steps = FakeSteps([FakeStep([f"step {i + 1}/3: line {i}", "more"]) for i in range(3)])
    page = player_page(steps)
    assert "step 1/3" not in page and "step 2/3" not in page
    assert '"line 1", "more"' in page and '<div class="ngp-count">step 1 of 3</div>' in page


def test_an_animation_frame_draws_the_count_once():
    for first in ("step 2/3: x is a leaf", "x is a leaf"):
        step = FakeStep([first, "x.grad = 2"])
        step.index = 1
        assert frame_caption(step, 3) == ["step 2 of 3: x is a leaf", "x.grad = 2"]


def test_the_player_has_icons_every_browser_draws_and_sizes_frames_in_pixels():
    steps = FakeSteps([FakeStep([f"step {i + 1}/2: s{i}"]) for i in range(2)])
    fragment = player_html(steps)
    for act in ("first", "prev", "play", "next", "last", "zoom-out", "fit", "zoom-in"):
        assert f'data-act="{act}"' in fragment
    # no media-control characters (⏮ ⏭ ◀ ▶ ❚), which common fonts draw as an empty box
    assert not re.search("[\u2300-\u23ff\u25a0-\u25ff\u2758-\u275a]", fragment)
    assert fragment.count('class="ngp-icon"') >= 6
    # Graphviz's points become CSS pixels (4/3), the script rescales them to fit
    assert 'width="800" height="200" data-width="800.00" data-height="200.00"' in fragment
    assert fragment.count('class="frame"') == 2
    assert "__ID__" not in fragment and "__CAPTIONS__" not in fragment
    # two players on one page (two notebook cells) have their own ids
    assert re.search(r'id="(ngsteps\w+)"', fragment).group(1) != \
        re.search(r'id="(ngsteps\w+)"', player_html(steps)).group(1)
    # only a page of its own follows the address and takes the keys of the whole page
    assert "page = false" in fragment and "page = true" in player_page(steps)


def test_a_caption_cannot_close_the_script():
    steps = FakeSteps([FakeStep(["step 1/1: x</script><b>"])])
    fragment = player_html(steps)
    assert fragment.count("</script>") == 1 and "x<\\/script>" in fragment


@needs_dot
def test_the_players_drawings_leave_the_caption_to_the_text_above():
    x, w = ag.Scalar(2.0, label="x"), ag.Scalar(-3.0, label="w", param=True)
    y = x * w
    y.label = "y"
    steps = ag.backward_steps(y)
    drawn = steps.svgs()[0]                                    # the animation's frames keep it
    assert "step 1 of 3: y = x * w" in drawn and "x.grad +=" in drawn and "step 1/3" not in drawn
    assert "x.grad +=" not in steps.svgs(caption=False)[0] and "step 1 of" not in steps.svgs(caption=False)[0]
    page = player_page(steps)
    assert "x.grad +=" in page and page.count('class="frame"') == len(steps)


def test_a_zero_dimensional_gradient_reads_scalar_in_the_caption():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    steps = ag.backward_steps((x * x).mean())
    first = steps[0].caption_lines[0]
    assert "()" not in first and "scalar" in first
