/* An explorer's images (ipywidgets' <img class="widget-image">) are made by the widget
   manager's scripts, so their drawn width is known only once each has loaded: record it as
   --natural-width, which tools/figure_frames.py writes at build time for the figures of the
   outputs, so that _assets/distlab.css keeps them legible on a phone alike. (Load events do not
   bubble: the listener catches them on their way down.) */
document.addEventListener("load", (event) => {
  const image = event.target;
  if (image instanceof HTMLImageElement && image.closest(".widget-subarea")) {
    image.style.setProperty("--natural-width", `${image.naturalWidth}px`);
  }
}, true);

/* On a phone a figure wider than its frame scrolls sideways in it (_assets/distlab.css). It
   opens at its middle, not at its left edge, where a centred title would be cut: matplotlib
   centres a figure's title over it, so the middle shows the title whole (up to some 600 px of
   the drawing, about 80 characters) over the middle of the plot. A cue at each edge with more
   beyond it says so: the class more-left shows the left one, at-right-end hides the right one
   (without this script a figure opens at its left edge, with the right cue alone). Each time
   the frame's width changes (the page laid out, a phone turned), the figure is centred again;
   a reader's own scrolling is left as it is, and the cues follow it. */
(() => {
  const widths = new WeakMap();
  const markEnds = (frame) => {
    frame.classList.toggle("more-left", frame.scrollLeft > 0.5);
    frame.classList.toggle("at-right-end",
                           frame.scrollLeft >= frame.scrollWidth - frame.clientWidth - 0.5);
  };
  const centreWhenResized = new ResizeObserver((entries) => {
    for (const { target: frame } of entries) {
      if (widths.get(frame) === frame.clientWidth) continue;  // only its height changed
      widths.set(frame, frame.clientWidth);
      frame.scrollLeft = (frame.scrollWidth - frame.clientWidth) / 2;
      markEnds(frame);
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    for (const frame of document.querySelectorAll(".figure-frame")) {
      centreWhenResized.observe(frame);
      frame.addEventListener("scroll", () => markEnds(frame), { passive: true });
    }
  });
})();
