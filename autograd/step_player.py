"""How ``backward_steps(root)`` is shown: the step player (an HTML page, or a notebook cell) and the
animated SVG.

The player shows one drawing per step (the SVGs Graphviz renders), the step count and the step's
caption as text above the drawing, buttons (first, back, play/pause, next, last), a slider, and zoom
(−, fit, +). The drawing is scaled to fit the window's width and the height left under the controls
(in a notebook: the cell's width and most of the window's height) and never drawn larger than its
natural size unless zoomed in. Keys: ← → step, space plays or pauses, Home/End go to the first/last
step, + − zoom, 0 fits. In a page of its own the address says the step: ``backprop.html#step=7`` opens
step 7, and stepping updates it (without filling the browser's history). In a notebook the keys work
once the player has the focus (click it), and the address is left alone.

The animated SVG nests one ``<svg>`` per step inside an outer one whose user unit is Graphviz's point,
so each frame is sized in those user units (a ``pt`` width inside it would be scaled by 4/3 again and
cropped), with SMIL ``visibility`` animations; a viewer without SMIL shows the last frame.
"""
import html
import json
import re
import uuid
import xml.etree.ElementTree as ET

from .draw import COLORS

__all__ = ["player_html", "player_page", "animated_svg", "caption_text", "frame_caption"]

_PX_PER_PT = 96 / 72          # CSS pixels per point (Graphviz sizes its SVGs in points)
_STEP_PREFIX = re.compile(r"^step \d+\s*(/|of)\s*\d+:\s*")

# Inline SVG icons (every browser draws them; the media-control characters are missing from common fonts).
_ICONS = {
    "first": '<path d="M3 3h2.2v10H3zM13 3v10L6 8z"/>',
    "prev": '<path d="M11.5 3v10L4.5 8z"/>',
    "play": '<path d="M4.5 3v10l7-5z"/>',
    "pause": '<path d="M4 3h3v10H4zM9 3h3v10H9z"/>',
    "next": '<path d="M4.5 3v10l7-5z"/>',
    "last": '<path d="M10.8 3H13v10h-2.2zM3 3v10l7-5z"/>',
}


def _icon(name):
    return (f'<svg class="ngp-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" '
            f'focusable="false">{_ICONS[name]}</svg>')


def caption_text(step):
    """The step's caption lines as the player shows them: the count is shown beside them, so a leading
    "step 3/10:" is dropped from the first line."""
    lines = list(step.caption_lines)
    if lines:
        lines[0] = _STEP_PREFIX.sub("", lines[0], count=1)
    return lines


def frame_caption(step, total):
    """The caption drawn into a frame of the animation (no counter beside it there): the step count once,
    then the step's caption lines."""
    lines = caption_text(step) or [""]
    return [f"step {step.index + 1} of {total}: {lines[0]}"] + lines[1:]


def _sized_for_html(svg):
    """Graphviz's SVG without its XML prolog, sized in CSS pixels (the script rescales it to fit)."""
    svg = svg[svg.index("<svg"):]
    match = re.search(r'<svg\b[^>]*>', svg)
    tag = match.group(0)
    width = _points(re.search(r'\bwidth="([^"]+)"', tag).group(1)) * _PX_PER_PT
    height = _points(re.search(r'\bheight="([^"]+)"', tag).group(1)) * _PX_PER_PT
    new_tag = re.sub(r'\s(width|height)="[^"]*"', "", tag)
    new_tag = new_tag.replace("<svg", f'<svg width="{width:.0f}" height="{height:.0f}" '
                              f'data-width="{width:.2f}" data-height="{height:.2f}" '
                              f'style="max-width:100%;height:auto"', 1)
    return new_tag + svg[match.end():]


_CSS = """
.ngp{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;max-width:100%}
.ngp:focus{outline:none}
.ngp-bar{display:flex;flex-wrap:wrap;align-items:center;gap:4px;margin:4px 0}
.ngp-bar button{display:inline-flex;align-items:center;gap:4px;font:inherit;font-size:14px;line-height:1.2;
  padding:3px 9px;border:1px solid #999;border-radius:4px;background:#f6f6f6;color:#222;cursor:pointer}
.ngp-bar button:hover{background:#e8e8e8}
.ngp-bar button:focus-visible{outline:2px solid #3b7ddd;outline-offset:1px}
.ngp-icon{fill:currentColor;flex:none}
.ngp-slider{width:200px;vertical-align:middle}
.ngp-sep{width:10px}
.ngp-zoom-level{font-size:13px;color:#555;min-width:5.5em}
.ngp-count{font-weight:600;margin:6px 0 2px}
.ngp-caption{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px;
  white-space:pre-wrap;margin:0 0 6px;line-height:1.35}
.ngp-caption .ngp-head{font-weight:600}
.ngp-view{overflow:auto;max-width:100%;border:1px solid #ddd;background:#fff}
.ngp-view svg{display:block}
"""

_SCRIPT = r"""
(function() {
  var root = document.getElementById(__ID__), page = __PAGE__, interval = __INTERVAL__, captions = __CAPTIONS__,
      highlight = __HIGHLIGHT__;
  var frames = root.querySelectorAll(".frame"), n = frames.length, i = 0, timer = null, zoom = null;
  var slider = root.querySelector(".ngp-slider"), count = root.querySelector(".ngp-count"),
      caption = root.querySelector(".ngp-caption"), view = root.querySelector(".ngp-view"),
      playButton = root.querySelector('[data-act="play"]'), level = root.querySelector(".ngp-zoom-level");
  var playIcon = playButton.innerHTML, pauseIcon = root.querySelector(".ngp-pause-icon").innerHTML;

  function svgOf(k) { return frames[k].querySelector("svg"); }
  function natural(svg) {
    return [parseFloat(svg.getAttribute("data-width")), parseFloat(svg.getAttribute("data-height"))];
  }
  function roomBelow() {
    // below the controls, the height of the window (in a notebook cell, most of the window)
    var top = page ? Math.max(0, view.getBoundingClientRect().top + window.scrollY) : 0;
    return Math.max(80, page ? window.innerHeight - top - 12 : 0.75 * window.innerHeight);
  }
  function fitScale(svg) {
    // the width of the view and the room below the controls, never above the drawing's natural size
    var size = natural(svg);
    return Math.max(0.05, Math.min(1, (view.clientWidth - 2) / size[0], roomBelow() / size[1]));
  }
  function follow(svg) {
    // zoomed in, the view scrolls to the vertex of this step (drawn in the highlight colour)
    var mark = svg.querySelector('g.node [stroke="' + highlight + '"]') ||
               svg.querySelector('[stroke="' + highlight + '"]');
    if (!mark) return;
    var r = mark.getBoundingClientRect(), v = view.getBoundingClientRect();
    view.scrollLeft += (r.left + r.width / 2) - (v.left + v.width / 2);
    view.scrollTop += (r.top + r.height / 2) - (v.top + v.height / 2);
  }
  function layout() {
    var svg = svgOf(i), size = natural(svg), scale = zoom === null ? fitScale(svg) : zoom;
    svg.style.maxWidth = "none";
    svg.style.width = (size[0] * scale) + "px";
    svg.style.height = (size[1] * scale) + "px";
    view.style.maxHeight = zoom === null ? "" : roomBelow() + "px";
    level.textContent = (zoom === null ? "fit " : "") + Math.round(scale * 100) + "%";
    root.setAttribute("data-scale", scale.toFixed(4));
    if (zoom !== null) follow(svg);
  }
  function show(k, keepPlaying) {
    if (!keepPlaying) stop();
    i = Math.max(0, Math.min(n - 1, k));
    for (var j = 0; j < n; j++) frames[j].style.display = j === i ? "block" : "none";
    slider.value = i;
    count.textContent = "step " + (i + 1) + " of " + n;
    caption.innerHTML = "";
    captions[i].forEach(function(line, j) {
      var div = document.createElement("div");
      div.textContent = line;
      if (j === 0) div.className = "ngp-head";
      caption.appendChild(div);
    });
    root.setAttribute("data-step", i + 1);
    if (page && location.hash !== "#step=" + (i + 1)) {
      try { history.replaceState(null, "", "#step=" + (i + 1)); } catch (e) { }
    }
    layout();
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.innerHTML = playIcon;
    playButton.setAttribute("aria-label", "play");
    root.setAttribute("data-playing", "false");
  }
  function play() {
    if (i === n - 1) show(0);
    playButton.innerHTML = pauseIcon;
    playButton.setAttribute("aria-label", "pause");
    root.setAttribute("data-playing", "true");
    timer = setInterval(function() { if (i >= n - 1) stop(); else show(i + 1, true); }, interval);
  }
  function toggle() { if (timer !== null) stop(); else play(); }
  function setZoom(z) {
    zoom = z === null ? null : Math.max(0.1, Math.min(4, z));
    view.classList.toggle("ngp-zoomed", zoom !== null);
    layout();
  }
  function currentScale() { return parseFloat(root.getAttribute("data-scale")) || 1; }
  var actions = {
    first: function() { show(0); }, prev: function() { show(i - 1); }, next: function() { show(i + 1); },
    last: function() { show(n - 1); }, play: toggle,
    "zoom-in": function() { setZoom(currentScale() * 1.25); },
    "zoom-out": function() { setZoom(currentScale() / 1.25); },
    fit: function() { setZoom(null); }
  };
  root.querySelectorAll("button[data-act]").forEach(function(b) {
    b.addEventListener("click", function() { actions[b.getAttribute("data-act")](); });
  });
  slider.addEventListener("input", function() { show(parseInt(slider.value, 10)); });
  var keys = { ArrowRight: "next", ArrowDown: "next", ArrowLeft: "prev", ArrowUp: "prev", " ": "play",
               Home: "first", End: "last", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "fit" };
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;   // leave the browser's shortcuts alone
    var t = e.target;
    if (t && t !== slider && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var act = keys[e.key];
    if (!act) return;
    e.preventDefault();      // no scrolling, no second "click" of a focused button, no native slider step
    e.stopPropagation();     // in a notebook, not a shortcut of the notebook too
    actions[act]();
  }
  (page ? document : root).addEventListener("keydown", onKey);
  root.addEventListener("mousedown", function(e) {
    // in a notebook the keys act on the focused player: a click on the drawing or the text focuses it
    if (!page && !e.target.closest("button, input")) root.focus({preventScroll: true});
  });
  function fromAddress() {
    var m = /step=(\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) - 1 : 0;
  }
  if (page) window.addEventListener("hashchange", function() { show(fromAddress()); });
  window.addEventListener("resize", function() { layout(); });
  if (window.ResizeObserver) new ResizeObserver(function() { layout(); }).observe(root);
  show(page ? fromAddress() : 0);
  root.setAttribute("data-ready", "true");
})();
"""


def player_html(steps, interval=1.5, page=False, **options):
    """The player as an HTML fragment (a notebook cell's display); ``page=True`` for a page of its
    own (the keys act on the whole page and the address follows the step)."""
    # random, not counted: a notebook keeps the outputs of earlier kernel sessions, whose counters began
    # at 0 too, and a script bound to one of those would leave this player dead
    uid = f"ngsteps{uuid.uuid4().hex[:12]}"
    frames = []
    for i, svg in enumerate(steps.svgs(caption=False, **options)):
        display = "block" if i == 0 else "none"
        frames.append(f'<div class="frame" style="display:{display}">{_sized_for_html(svg)}</div>')
    captions = [caption_text(s) for s in steps]
    longest = max((len(c) for c in captions), default=1)
    first = captions[0] if captions else [""]

    def button(act, label, icon=None, text=""):
        inner = (_icon(icon) if icon else "") + (f"<span>{html.escape(text)}</span>" if text else "")
        return (f'<button type="button" data-act="{act}" title="{html.escape(label)}" '
                f'aria-label="{html.escape(label)}">{inner}</button>')

    bar = "".join([
        button("first", "first step (Home)", "first"),
        button("prev", "previous step (←)", "prev", "back"),
        button("play", "play (space)", "play", "play"),
        button("next", "next step (→)", "next", "next"),
        button("last", "last step (End)", "last"),
        f'<input class="ngp-slider" type="range" min="0" max="{max(len(steps) - 1, 0)}" value="0" '
        f'aria-label="step">',
        '<span class="ngp-sep"></span>',
        button("zoom-out", "zoom out (−)", None, "−"),
        button("fit", "fit the drawing to the window (0)", None, "fit"),
        button("zoom-in", "zoom in (+)", None, "+"),
        '<span class="ngp-zoom-level"></span>',
    ])
    script = (_SCRIPT.replace("__ID__", json.dumps(uid)).replace("__PAGE__", "true" if page else "false")
              .replace("__INTERVAL__", str(int(interval * 1000)))
              .replace("__HIGHLIGHT__", json.dumps(COLORS["highlight"]))
              .replace("__CAPTIONS__", json.dumps(captions, ensure_ascii=False).replace("</", "<\\/"), 1))
    first_caption = "".join(f'<div{" class=ngp-head" if j == 0 else ""}>{html.escape(line)}</div>'
                            for j, line in enumerate(first))
    return f"""<style>{_CSS}</style>
<div class="ngp" id="{uid}" tabindex="-1" data-step="1" data-steps="{len(steps)}">
<template class="ngp-pause-icon">{_icon("pause")}<span>pause</span></template>
<div class="ngp-bar">{bar}</div>
<div class="ngp-count">step 1 of {len(steps)}</div>
<div class="ngp-caption" style="min-height:{1.35 * longest:.2f}em">{first_caption}</div>
<div class="ngp-view">{''.join(frames)}</div>
</div>
<script>{script}</script>"""


def player_page(steps, interval=1.5, **options):
    """A standalone HTML page with the player."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>backprop step by step</title>\n"
            "<style>body{margin:8px 12px}</style></head><body>\n"
            + player_html(steps, interval, page=True, **options) + "\n</body></html>\n")


def animated_svg(svgs, interval=1.5):
    """One SVG that shows the given SVG documents in turn (SMIL, looping); without SMIL, the last."""
    svg_ns, xlink_ns = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
    ET.register_namespace("", svg_ns)
    ET.register_namespace("xlink", xlink_ns)
    parsed = [ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", s[s.index("<svg"):])) for s in svgs]
    sizes = [(_points(e.get("width")), _points(e.get("height"))) for e in parsed]
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    durations = [interval] * (len(parsed) - 1) + [3 * interval]
    total = sum(durations)
    # The outer viewBox makes one user unit one point; the frames are sized in those units.
    out = ET.Element(f"{{{svg_ns}}}svg", {"width": f"{width:g}pt", "height": f"{height:g}pt",
                                          "viewBox": f"0 0 {width:g} {height:g}", "version": "1.1"})
    ET.SubElement(out, f"{{{svg_ns}}}rect", {"width": "100%", "height": "100%", "fill": "white"})
    start = 0.0
    for i, ((frame_width, frame_height), frame, duration) in enumerate(zip(sizes, parsed, durations)):
        for element in frame.iter():
            if element.get("id"):
                element.set("id", f"step{i}_{element.get('id')}")
        frame.set("width", f"{frame_width:g}")
        frame.set("height", f"{frame_height:g}")
        last = i == len(parsed) - 1
        frame.set("visibility", "visible" if last else "hidden")
        if len(parsed) > 1:
            begin, end = start / total, (start + duration) / total
            if i == 0:
                values, times = "visible;hidden", f"0;{end:.6f}"
            elif last:
                values, times = "hidden;visible", f"0;{begin:.6f}"
            else:
                values, times = "hidden;visible;hidden", f"0;{begin:.6f};{end:.6f}"
            ET.SubElement(frame, f"{{{svg_ns}}}animate", {
                "attributeName": "visibility", "values": values, "keyTimes": times, "calcMode": "discrete",
                "dur": f"{total:g}s", "repeatCount": "indefinite"})
        out.append(frame)
        start += duration
    return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(out, encoding="unicode")


def _points(length):
    """A Graphviz length in points ("1568pt", or a bare number, which Graphviz also means as points)."""
    match = re.match(r"\s*([0-9.]+)\s*(pt)?\s*$", length)
    if match is None:
        raise ValueError(f"animated_svg: expected a length in points, got {length!r}")
    return float(match.group(1))
