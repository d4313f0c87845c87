/* "Run before you submit" on an exercise page (templates/exercises/_run_form.html, _run.html).
   Everything works without this file: Run posts the form, and the page comes back with the run
   in it, refreshing itself until the run is done; "Replay this schedule" is then a link.

   - The Run panel's own refusals (rate limit, empty or oversized code, a bad schedule) come back
     as 4xx/5xx with the X-Run-Refusal header; htmx swaps no error by default, so those are let
     through here, into #run-result only. The editor is never touched: the code stays.
   - A finished run whose code raised marks that line in the editor (counted in the code as it is
     now, which is the code that ran). Other swaps on the page (a hint, a verdict) keep that mark.
     When the editor holds a draft (code not yet submitted), the latest verdict's line is not a
     line of it: no mark until a run gives one.
   - "Replay this schedule" on a verdict (form[data-load-schedule]) puts its seed and faults into
     the Run form instead of loading the page, so the code being edited stays, and moves the
     focus to the Run button. */
(function () {
  "use strict";

  function start() {
    var panel = document.getElementById("run-result");
    if (!panel) return;
    var api = window.SagaEditor;
    var area = document.querySelector("textarea[data-editor][name=code]");
    var ownsMark = false;
    var saved = null;
    var markedRun = null;

    function editor() {
      return api && area && api.viewFor && api.viewFor(area) ? api : null;
    }

    function markFromRun() {
      var result = panel.querySelector(".run-result[data-run]");
      if (!result || result.getAttribute("data-run") === markedRun) return false;
      markedRun = result.getAttribute("data-run");
      ownsMark = true;
      var line = parseInt(result.getAttribute("data-error-line") || "", 10);
      if (editor()) api.markLine(area, line > 0 ? line : null, { current: true });
      return true;
    }

    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var detail = event.detail;
      var refused = detail.xhr && detail.xhr.getResponseHeader("X-Run-Refusal");
      if (refused && detail.target && panel.contains(detail.target)) {
        detail.shouldSwap = true;
        detail.isError = false;
      }
      if (ownsMark && editor()) saved = api.markedLine(area);
    });

    // Registered after editor.js's listener, so this runs after it has marked the verdict's line.
    document.body.addEventListener("htmx:afterSettle", function () {
      if (markFromRun()) return;
      if (ownsMark && editor()) api.markLine(area, saved, { current: true });
    });

    if (!markFromRun() && document.querySelector("[data-draft]")) {
      ownsMark = true;
      if (editor()) api.markLine(area, null);
    }

    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form[data-load-schedule]")) return;
      var seed = document.getElementById("run-seed");
      var faults = document.getElementById("run-faults");
      var button = document.getElementById("run-button");
      if (!seed || !faults || !button) return;
      event.preventDefault();
      seed.value = form.elements.run_seed.value;
      var schedule = [];
      try {
        schedule = JSON.parse(form.elements.run_faults.value || "[]");
      } catch (e) {
        schedule = [];
      }
      faults.value = schedule.length ? JSON.stringify(schedule, null, 1) : "";
      var details = faults.closest("details");
      if (details) details.open = true;
      var status = document.getElementById("run-loaded");
      if (status) {
        status.textContent = "Loaded seed " + seed.value + " and " + schedule.length + " fault" +
          (schedule.length === 1 ? "" : "s") + ". Press Run to run them on the code in your editor.";
      }
      document.getElementById("run").scrollIntoView({ block: "start" });
      button.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
