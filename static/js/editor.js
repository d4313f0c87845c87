/* Saga School code editor: a plain <textarea name="code"> that works without
   JavaScript, enhanced here (self-written, no library):
   - Tab inserts four spaces, Shift+Tab dedents (whole lines when several are selected);
   - Enter keeps the indentation (one level more after a line ending in ":");
   - Escape, then Tab, leaves the editor (keyboard users are never trapped);
   - light Python highlighting in a <pre> drawn behind a transparent textarea. */
(function () {
  "use strict";
  var INDENT = "    ";
  var KEYWORDS = ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" ");
  var KW = new RegExp("^(?:" + KEYWORDS.join("|") + ")$");
  var TOKEN = /(#[^\n]*)|("""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|[rbfuRBFU]{0,2}"(?:\\.|[^"\\\n])*"?|[rbfuRBFU]{0,2}'(?:\\.|[^'\\\n])*'?)|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight(source) {
    var out = "", last = 0, match, prevWord = "";
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(source)) !== null) {
      if (match[0] === "") { TOKEN.lastIndex++; continue; }
      out += escapeHtml(source.slice(last, match.index));
      var text = escapeHtml(match[0]), cls = null;
      if (match[1]) cls = "com";
      else if (match[2]) cls = "str";
      else if (match[3]) cls = "num";
      else if (match[4] && KW.test(match[4])) cls = "kw";
      else if (match[4] && (prevWord === "def" || prevWord === "class")) cls = "fn";
      out += cls ? '<span class="' + cls + '">' + text + "</span>" : text;
      if (match[4]) prevWord = match[4];
      last = match.index + match[0].length;
    }
    // A trailing newline needs a character after it, or the last line collapses.
    return out + escapeHtml(source.slice(last)) + "\n ";
  }

  function replaceRange(area, start, end, text) {
    area.focus();
    area.setSelectionRange(start, end);
    // execCommand keeps the browser's undo history; fall back where it is gone.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      area.setRangeText(text, start, end, "end");
      area.dispatchEvent(new Event("input", {bubbles: true}));
    }
  }

  function lineStart(value, index) { return value.lastIndexOf("\n", index - 1) + 1; }

  function indentLines(area, dedent) {
    var value = area.value, start = area.selectionStart, end = area.selectionEnd;
    var from = lineStart(value, start);
    if (!dedent && start === end) { replaceRange(area, start, end, INDENT); return; }
    var to = end > start && value[end - 1] === "\n" ? end - 1 : end;
    var block = value.slice(from, to), lines = block.split("\n"), removedFirst = 0, delta = 0;
    lines = lines.map(function (line, i) {
      if (!dedent) { delta += INDENT.length; return INDENT + line; }
      var strip = (line.match(/^ {1,4}/) || [""])[0].length;
      if (strip === 0 && line[0] === "\t") strip = 1;
      if (i === 0) removedFirst = strip;
      delta -= strip;
      return line.slice(strip);
    });
    replaceRange(area, from, to, lines.join("\n"));
    if (start === end) {
      var pos = Math.max(from, start - removedFirst);
      area.setSelectionRange(pos, pos);
    } else {
      area.setSelectionRange(dedent ? Math.max(from, start - removedFirst) : start + INDENT.length, to + delta);
    }
  }

  function newline(area) {
    var value = area.value, start = area.selectionStart;
    var line = value.slice(lineStart(value, start), start);
    var indent = (line.match(/^[ \t]*/) || [""])[0];
    if (/:\s*(#.*)?$/.test(line)) indent += INDENT;
    replaceRange(area, start, area.selectionEnd, "\n" + indent);
  }

  function enhance(area) {
    var escaped = false;
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { escaped = true; return; }
      if (event.key === "Tab") {
        if (escaped || event.ctrlKey || event.altKey || event.metaKey) { escaped = false; return; }
        event.preventDefault();
        indentLines(area, event.shiftKey);
        return;
      }
      escaped = false;
      if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
        event.preventDefault();
        newline(area);
      }
    });

    var wrapper = area.parentElement;
    if (!wrapper || !wrapper.classList.contains("code-editor")) return;
    var pre = document.createElement("pre");
    pre.className = "editor-highlight";
    pre.setAttribute("aria-hidden", "true");
    wrapper.insertBefore(pre, area);
    function paint() {
      pre.innerHTML = highlight(area.value);
      pre.scrollTop = area.scrollTop;
      pre.scrollLeft = area.scrollLeft;
    }
    area.addEventListener("input", paint);
    area.addEventListener("scroll", function () { pre.scrollTop = area.scrollTop; pre.scrollLeft = area.scrollLeft; });
    paint();
    wrapper.classList.add("highlighting");
  }

  function start() {
    var areas = document.querySelectorAll("textarea[data-editor]");
    for (var i = 0; i < areas.length; i++) enhance(areas[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
