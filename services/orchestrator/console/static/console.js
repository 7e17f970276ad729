// The console's only script of its own: draws Mermaid diagrams (on load and after htmx
// swaps a part of the page in). Everything else is htmx attributes in the templates.
(function () {
  "use strict";
  function drawDiagrams() {
    if (!window.mermaid) {
      return;
    }
    window.mermaid.run({ querySelector: "pre.mermaid:not([data-processed])" });
  }
  if (window.mermaid) {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  }
  document.addEventListener("DOMContentLoaded", drawDiagrams);
  document.addEventListener("htmx:afterSettle", drawDiagrams);
})();
