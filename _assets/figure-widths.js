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
