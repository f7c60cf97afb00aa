"""The backprop step player and the animated SVG opened in headless Chromium, used as a reader would:
buttons clicked with the mouse, keys pressed, the page's address followed; the visible step, its
caption and the drawing's fit in the window checked after every action. A Scalar graph (the README's
neuron) and a Tensor graph (a 2-3-1 MLP with a mean-squared-error loss).

Needs Chromium (``make browser`` installs Debian's package where it can) and Graphviz's ``dot``; each
missing one skips these tests with its reason.
"""
import shutil
import sys
from pathlib import Path

import pytest

from autograd.draw import COLORS
from autograd.step_player import caption_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/, not installed
from tools.headless_chromium import INSTALL_HINT, Chromium, find_chromium  # noqa: E402
from tools.screenshots import mlp_steps, neuron_steps  # noqa: E402  (the README's screenshots play them too)

pytestmark = [
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (make graphviz)"),
    pytest.mark.skipif(find_chromium() is None, reason=INSTALL_HINT),
]

WIDTH, HEIGHT = 1400, 900
PLAYER = "document.querySelector('.ngp')"     # the page's player (the first, where a notebook has more)


@pytest.fixture(scope="module")
def browser():
    with Chromium(WIDTH, HEIGHT) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("player")
    made = {}
    for name, make in (("neuron", neuron_steps), ("mlp", mlp_steps)):
        steps = make()
        path = steps.save(str(folder / f"{name}.html"), interval=0.05)
        made[name] = (Path(path).as_uri(), steps)
    return made


@pytest.fixture(autouse=True)
def window(browser):
    browser.resize(WIDTH, HEIGHT)
    browser.errors.clear()
    yield
    assert browser.errors == [], "the page raised JavaScript errors"


def open_player(browser, url, fresh=False):
    browser.open(url, fresh=fresh)
    browser.wait_for(f"{PLAYER}.dataset.ready")


def state(browser, player=PLAYER):
    """What the reader sees: the step shown, the frames shown, the count and caption, the drawing's box."""
    return browser.evaluate(f"""(function() {{
        var p = {player}, frames = Array.from(p.querySelectorAll('.frame'));
        var shown = frames.map(function(f, i) {{ return getComputedStyle(f).display !== 'none' ? i : -1; }})
                          .filter(function(i) {{ return i >= 0; }});
        var svg = frames[shown[0]].querySelector('svg').getBoundingClientRect();
        return {{step: parseInt(p.dataset.step, 10), shown: shown, hash: location.hash,
                 count: p.querySelector('.ngp-count').textContent,
                 caption: Array.from(p.querySelectorAll('.ngp-caption > div')).map(function(d) {{
                     return d.textContent; }}),
                 playing: p.dataset.playing === 'true', scale: parseFloat(p.dataset.scale),
                 svg: {{left: svg.left, top: svg.top, right: svg.right, bottom: svg.bottom,
                        width: svg.width, height: svg.height}},
                 window: [innerWidth, innerHeight],
                 scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight]}};
    }})()""")


def check_step(browser, steps, number, page=True, player=PLAYER):
    """Step ``number`` (1-based) is the one shown, with its count and caption, and the drawing fits."""
    seen = state(browser, player)
    total = len(steps)
    assert seen["step"] == number and seen["shown"] == [number - 1]
    assert seen["count"] == f"step {number} of {total}"
    assert seen["caption"] == caption_text(steps[number - 1])
    assert not any(line.startswith("step ") for line in seen["caption"]), "the step count is shown twice"
    if page:
        assert seen["hash"] == f"#step={number}"
        fits_window(seen)
    return seen


def fits_window(seen):
    width, height = seen["window"]
    box = seen["svg"]
    assert box["width"] > 100 and box["height"] > 50
    assert box["left"] >= 0 and box["right"] <= width + 0.5, f"the drawing is wider than the window: {box}"
    assert box["top"] >= 0 and box["bottom"] <= height + 0.5, f"the drawing is taller than the window: {box}"
    assert seen["scroll"][0] <= width, "the page scrolls sideways"


@pytest.mark.parametrize("name", ["neuron", "mlp"])
def test_buttons_and_keys_step_through_the_pass(browser, pages, name):
    url, steps = pages[name]
    total = len(steps)
    open_player(browser, url)
    check_step(browser, steps, 1)
    for act, expected in (("next", 2), ("next", 3), ("prev", 2), ("last", total),
                          ("next", total), ("first", 1), ("prev", 1)):   # no step past either end
        browser.click(f"[data-act={act}]")
        check_step(browser, steps, expected)
    for key, expected in (("ArrowRight", 2), ("ArrowRight", 3), ("ArrowLeft", 2), ("End", total),
                          ("ArrowLeft", total - 1), ("Home", 1), ("ArrowDown", 2), ("ArrowUp", 1)):
        browser.press(key)                       # the focus is on the last button clicked
        check_step(browser, steps, expected)
    for i in range(1, total):                    # every step's drawing fits
        browser.press("ArrowRight")
        check_step(browser, steps, i + 1)


@pytest.mark.parametrize("name", ["neuron", "mlp"])
def test_play_runs_to_the_end_and_space_plays_and_pauses(browser, pages, name):
    url, steps = pages[name]
    total = len(steps)
    open_player(browser, url)
    browser.click("[data-act=play]")             # 50 ms a step
    browser.wait_for(f"{PLAYER}.dataset.step == {total} && {PLAYER}.dataset.playing == 'false'")
    seen = check_step(browser, steps, total)
    assert not seen["playing"]
    assert browser.evaluate("document.querySelector('[data-act=play]').getAttribute('aria-label')") == "play"
    browser.press(" ")                           # at the end, play starts over
    browser.wait_for(f"{PLAYER}.dataset.playing == 'true'")
    browser.press(" ")                           # and space pauses it (once: no extra click of the button)
    paused = state(browser)
    assert not paused["playing"]
    browser.evaluate("new Promise(function(r) { setTimeout(r, 200); })")
    assert state(browser)["step"] == paused["step"]
    check_step(browser, steps, paused["step"])
    browser.press("ArrowRight")                  # stepping by hand while playing stops the play
    browser.press(" ")
    browser.press("ArrowRight")
    assert not state(browser)["playing"]


def test_the_address_names_the_step(browser, pages):
    url, steps = pages["neuron"]
    open_player(browser, url + "#step=7", fresh=True)    # a teacher's link to step 7
    check_step(browser, steps, 7)
    browser.press("ArrowRight")
    check_step(browser, steps, 8)
    history = browser.evaluate("history.length")
    browser.press("ArrowRight")                  # the address follows without filling the history
    assert browser.evaluate("history.length") == history
    browser.evaluate("location.hash = '#step=2'")  # the reader edits the address
    browser.wait_for(f"{PLAYER}.dataset.step == 2")
    check_step(browser, steps, 2)
    open_player(browser, url + "#step=999", fresh=True)  # out of range: the last step
    check_step(browser, steps, len(steps))


def test_the_drawing_follows_the_window_and_zooms(browser, pages):
    url, steps = pages["mlp"]
    open_player(browser, url + "#step=4")
    wide = check_step(browser, steps, 4)
    browser.resize(800, 700)
    browser.wait_for(f"{PLAYER}.dataset.scale < {wide['scale']}")
    narrow = check_step(browser, steps, 4)
    assert narrow["svg"]["width"] < wide["svg"]["width"]
    browser.click("[data-act=zoom-in]")
    zoomed = state(browser)
    assert zoomed["scale"] == pytest.approx(narrow["scale"] * 1.25, rel=1e-3)
    assert zoomed["svg"]["width"] == pytest.approx(narrow["svg"]["width"] * 1.25, rel=1e-2)
    assert browser.evaluate(f"{PLAYER}.querySelector('.ngp-zoom-level').textContent") == \
        f"{round(zoomed['scale'] * 100)}%"
    browser.press("ArrowRight")                  # the zoom stays while stepping
    assert state(browser)["scale"] == pytest.approx(zoomed["scale"], rel=1e-3)
    for _ in range(4):                           # far in: the view scrolls to the step's vertex
        browser.press("+")
    assert browser.evaluate(f"""(function() {{
        var p = {PLAYER}, frame = p.querySelectorAll('.frame')[p.dataset.step - 1];
        var mark = frame.querySelector('g.node [stroke="{COLORS["highlight"]}"]').getBoundingClientRect();
        var view = p.querySelector('.ngp-view').getBoundingClientRect();
        return mark.left >= view.left && mark.right <= view.right && mark.top >= view.top &&
               mark.bottom <= view.bottom && view.bottom <= innerHeight;
    }})()""")
    for _ in range(5):
        browser.press("-")
    assert state(browser)["scale"] == pytest.approx(narrow["scale"], rel=1e-2)
    browser.press("+")
    browser.press("0")                           # back to fitting the window
    fitted = check_step(browser, steps, 5)
    assert browser.evaluate(f"{PLAYER}.querySelector('.ngp-zoom-level').textContent").startswith("fit ")
    assert fitted["svg"]["right"] <= 800


def test_every_button_shows_its_icon_or_text(browser, pages):
    url, _ = pages["neuron"]
    open_player(browser, url)
    buttons = browser.evaluate("""Array.from(document.querySelectorAll('.ngp-bar button')).map(function(b) {
        var icon = b.querySelector('svg path'), text = b.textContent.trim();
        var box = icon ? icon.getBoundingClientRect() : null;
        return {act: b.dataset.act, label: b.getAttribute('aria-label'), text: text,
                icon: box ? [box.width, box.height] : null};
    })""")
    assert [b["act"] for b in buttons] == ["first", "prev", "play", "next", "last", "zoom-out", "fit",
                                           "zoom-in"]
    for b in buttons:
        assert b["label"], b
        assert b["text"] or (b["icon"] and min(b["icon"]) >= 8), f"{b['act']} shows nothing: {b}"
        assert not any(0x2300 <= ord(c) <= 0x23FF or 0x25A0 <= ord(c) <= 0x25FF for c in b["text"]), \
            f"{b['act']} uses a symbol that common fonts lack: {b['text']!r}"


def test_two_players_in_a_notebook_fit_their_cells_and_keep_to_themselves(browser, pages, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat (dev extras) writes the notebook")
    nbconvert = pytest.importorskip("nbconvert", reason="nbconvert (dev extras) renders the notebook")
    shown = [pages["neuron"][1], pages["mlp"][1]]
    notebook = nbformat.v4.new_notebook()
    for code, steps in zip(("ag.backward_steps(h)", "ag.backward_steps(loss)"), shown):
        cell = nbformat.v4.new_code_cell(code, execution_count=1)
        cell.outputs = [nbformat.v4.new_output("execute_result", {"text/html": steps._repr_html_()},
                                               execution_count=1)]
        notebook.cells.append(cell)
    # the notebook as JupyterLab lays it out (nbconvert's lab template: its cells, prompts and CSS)
    body, _ = nbconvert.HTMLExporter(template_name="lab").from_notebook_node(notebook)
    page = tmp_path / "notebook.html"
    page.write_text(body, encoding="utf-8")
    browser.resize(1000, 900)
    open_player(browser, page.as_uri())
    browser.wait_for("document.querySelectorAll('.ngp[data-ready]').length == 2")
    ids = browser.evaluate("Array.from(document.querySelectorAll('.ngp')).map(function(p) { return p.id; })")
    players = [f"document.getElementById('{uid}')" for uid in ids]
    for player, steps in zip(players, shown):
        seen = check_step(browser, steps, 1, page=False, player=player)
        cell = browser.evaluate(f"(function(r) {{ return [r.left, r.right]; }})"
                                f"({player}.closest('.jp-OutputArea-output').getBoundingClientRect())")
        assert cell[0] <= seen["svg"]["left"] and seen["svg"]["right"] <= cell[1] + 0.5, \
            f"the drawing is wider than its cell: {seen['svg']} in {cell}"
    browser.click(f"#{ids[0]} .ngp-view")        # the keys act on the player that has the focus
    browser.press("ArrowRight")
    browser.press("ArrowRight")
    check_step(browser, shown[0], 3, page=False, player=players[0])
    check_step(browser, shown[1], 1, page=False, player=players[1])
    browser.click(f"#{ids[1]} [data-act=next]")
    browser.press("End")
    check_step(browser, shown[1], len(shown[1]), page=False, player=players[1])
    check_step(browser, shown[0], 3, page=False, player=players[0])
    assert state(browser)["hash"] == "", "a notebook's address is not the player's"


def test_animated_svg_plays_and_every_frame_fits_the_picture(browser, tmp_path):
    steps = neuron_steps()
    path = steps.save(str(tmp_path / "neuron_backprop.svg"), interval=0.25)
    browser.open(Path(path).as_uri())
    # it plays: sampled every 50 ms, one frame at a time, in order
    seen = browser.evaluate("""(async function() {
        var frames = Array.from(document.documentElement.querySelectorAll(':scope > svg')), seen = [];
        for (var k = 0; k < 30; k++) {
            seen.push(frames.map(function(f, j) { return getComputedStyle(f).visibility === 'visible' ? j : -1; })
                            .filter(function(j) { return j >= 0; }));
            await new Promise(function(r) { setTimeout(r, 50); });
        }
        return seen;
    })()""")
    assert all(len(visible) == 1 for visible in seen), seen
    shown = [visible[0] for visible in seen]
    assert shown == sorted(shown) and len(set(shown)) >= 3, shown
    # each frame on its own (Chromium does not seek SMIL reliably, so the animations are taken out and
    # each frame made visible in turn): all of its drawing inside the picture
    count = browser.evaluate("""(function() {
        var frames = document.documentElement.querySelectorAll(':scope > svg');
        frames.forEach(function(f) { f.querySelectorAll('animate').forEach(function(a) { a.remove(); }); });
        return frames.length;
    })()""")
    assert count == len(steps)
    for i in range(count):
        seen = browser.evaluate(f"""(function() {{
            var outer = document.documentElement, box = outer.getBoundingClientRect();
            var frames = Array.from(outer.querySelectorAll(':scope > svg'));
            frames.forEach(function(f, j) {{ f.setAttribute('visibility', j === {i} ? 'visible' : 'hidden'); }});
            var parts = Array.from(frames[{i}].querySelectorAll('g, text')).map(function(t) {{
                var r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }});
            return {{outer: [box.left, box.top, box.right, box.bottom], parts: parts,
                     texts: frames[{i}].querySelectorAll('text').length}};
        }})()""")
        assert seen["texts"] > 20
        left, top, right, bottom = seen["outer"]
        for part in seen["parts"]:
            assert part[0] >= left - 0.5 and part[1] >= top - 0.5, f"frame {i + 1} is cut at the top or left"
            assert part[2] <= right + 0.5 and part[3] <= bottom + 0.5, \
                f"frame {i + 1} is cut off: {part} outside the picture {seen['outer']}"
