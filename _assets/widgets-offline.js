/* Loaded on pages with widgets, just before the Jupyter widgets HTML manager (embed-amd.js);
   see nb_ipywidgets_js in _config.yml. It makes the manager work from the local copies:
   1. The manager's bundled stylesheets load their icon fonts from the URL that require.js
      gives their module names, by default folders "@jupyter-widgets/..." next to the page,
      which do not exist; map those names to the folder of the local embed-amd.js.
   2. The manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book
      loads MathJax 3, which has no Hub. Provide that one call, done with MathJax 3.
   3. A picture inside a widget (an explorer's drawing, an ipywidgets Image) has no alt text.
      Give it the alt text of the cell's still figure, which the book's extension took from
      the figure's title (tools/figure_alt_text.py), so a screen reader says what it shows. */
(function () {
  var manager = new URL("vendor/html-manager/", document.currentScript.src).href;
  // Other bundled modules (@jupyter-widgets/base, /controls...) derive the same folder from
  // their own module names: map the whole scope there too, or their fonts are looked for
  // next to the page (an intermittent 404, depending on which module asks first).
  window.requirejs.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": manager.slice(0, -1),
      "@jupyter-widgets": manager.slice(0, -1),
    },
  });
  window.__jupyter_widgets_assets_path__ = manager;

  function typesetWithMathJax3(job) {
    var element = job[2];  // the manager queues ["Typeset", MathJax.Hub, element]
    if (window.MathJax && window.MathJax.typesetPromise) {
      window.MathJax.typesetPromise([element]);
    }
  }

  function describeWidgetPictures() {
    document.querySelectorAll(".widget-subarea img:not([alt])").forEach(function (img) {
      var output = img.closest(".cell_output");
      var still = output && Array.from(output.querySelectorAll("img[alt]")).find(
        function (other) { return !other.closest(".widget-subarea"); });
      img.alt = still ? still.alt + " (the explorer as saved; its controls need a kernel)"
                      : "The explorer as saved (its controls need a kernel)";
    });
  }

  // The widgets are rendered on the window's load event, after MathJax 3 has started.
  window.addEventListener("load", function () {
    if (window.MathJax && !window.MathJax.Hub) {
      window.MathJax.Hub = { Queue: typesetWithMathJax3 };
    }
    new MutationObserver(describeWidgetPictures).observe(document.body,
                                                         { childList: true, subtree: true });
  });
})();
