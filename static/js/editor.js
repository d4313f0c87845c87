/* Saga School code editor on a page: every <textarea data-editor> becomes a CodeMirror 6
   editor (static/vendor/codemirror/editor.bundle.js, built from tools/editor). Without
   JavaScript, or if the bundle did not load, the plain textarea is the editor and posts
   as it is.

   - Tab indents by four spaces, Shift+Tab dedents; Escape, then Tab, leaves the editor.
   - When the verdict of the submission shown on the page is an error (syntax, import,
     runtime) that names a line of the learner's code, that line is marked, on load and
     after htmx swaps the verdict in. The line is read from `data-error-line` on the
     verdict when the template provides it, else from the verdict's message ("on line 3",
     "(line 3)", "line 3:"), which is what the learner reads. */
(function () {
  "use strict";
  var api = window.SagaEditor;
  if (!api) return;

  function errorLine(verdict) {
    var tagged = verdict.matches("[data-error-line]") ? verdict : verdict.querySelector("[data-error-line]");
    if (tagged) {
      var n = parseInt(tagged.getAttribute("data-error-line"), 10);
      return n > 0 ? n : null;
    }
    if (!verdict.matches(".verdict.error, .verdict.timeout")) return null;
    var message = verdict.querySelector(".verdict-message");
    var match = message && /\bline (\d+)\b/.exec(message.textContent);
    return match ? parseInt(match[1], 10) : null;
  }

  // The verdict belongs to the code the page was loaded with, unless the page came back
  // with a refused submission (its code is then the refused one).
  function markFromVerdict(area) {
    if (document.getElementById("submit-error")) return;
    var status = document.querySelector(".submission-status");
    if (!status) return;
    var verdict = status.querySelector(".verdict");
    if (!verdict || status.hasAttribute("hx-trigger")) return; // still queued or running
    api.markLine(area, errorLine(verdict));
  }

  function start() {
    var areas = document.querySelectorAll("textarea[data-editor]");
    for (var i = 0; i < areas.length; i++) api.enhance(areas[i]);
    var main = document.querySelector("textarea[data-editor][name=code]");
    if (!main) return;
    markFromVerdict(main);
    document.body.addEventListener("htmx:afterSettle", function () { markFromVerdict(main); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
