// Saga School's code editor: CodeMirror 6 over a plain <textarea name="code">.
//
// The textarea stays in the form and keeps the code: without JavaScript it is the
// editor, with it the textarea is hidden and follows every change, so a plain
// submit, an htmx request and `new FormData(form)` all send what the learner sees.
//
// Built by `make editor` (tools/editor/build.mjs) into
// static/vendor/codemirror/editor.bundle.js, which sets `window.SagaEditor`.
import {
  ChangeSet,
  EditorSelection,
  EditorState,
  Prec,
  RangeSet,
  StateEffect,
  StateField,
} from "@codemirror/state";
import {
  EditorView,
  Decoration,
  GutterMarker,
  gutterLineClass,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { classHighlighter } from "@lezer/highlight";
import { StyleModule } from "style-mod";

const INDENT = "    ";

// --- Styles under the site's CSP (style-src 'self', no nonce) -------------------------
// CodeMirror puts its base theme in a <style> element when it mounts on a document;
// the CSP refuses that element. style-mod uses a constructable stylesheet
// (document.adoptedStyleSheets) when it mounts on something that has no <head>, and
// CSSOM sheets are not inline styles, so mount through a head-less stand-in for the
// document. Browsers without constructable stylesheets keep the old path (the editor
// then works unstyled). Colours and fonts are in static/css/editor.css.
const originalMount = StyleModule.mount;
const standIns = new WeakMap();
function headlessStandIn(doc) {
  let standIn = standIns.get(doc);
  if (!standIn) {
    standIn = {
      ownerDocument: doc,
      get adoptedStyleSheets() {
        return doc.adoptedStyleSheets;
      },
      set adoptedStyleSheets(sheets) {
        doc.adoptedStyleSheets = sheets;
      },
    };
    standIns.set(doc, standIn);
  }
  return standIn;
}
StyleModule.mount = function (root, modules, options) {
  const isDocument = root && root.nodeType === 9;
  if (isDocument && "adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
    return originalMount.call(this, headlessStandIn(root), modules, options);
  }
  return originalMount.call(this, root, modules, options);
};

// --- The line an error points at ----------------------------------------------------
const setErrorLine = StateEffect.define();
const errorLineDeco = Decoration.line({
  class: "cm-error-line",
  attributes: { title: "The error in the verdict points at this line" },
});
const errorGutterMarker = new (class extends GutterMarker {
  get elementClass() {
    return "cm-error-gutter";
  }
})();

const errorLineField = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setErrorLine)) continue;
      const n = effect.value;
      marks =
        n && n >= 1 && n <= tr.state.doc.lines
          ? Decoration.set([errorLineDeco.range(tr.state.doc.line(n).from)])
          : Decoration.none;
    }
    return marks;
  },
  provide: (field) => [
    EditorView.decorations.from(field),
    gutterLineClass.compute([field], (state) => {
      const markers = [];
      state.field(field).between(0, state.doc.length, (from) => {
        markers.push(errorGutterMarker.range(from));
      });
      return RangeSet.of(markers);
    }),
  ],
});

// --- Tab indents; Escape, then Tab (or Shift+Tab), leaves the editor ------------------
function insertIndent(view) {
  const { state } = view;
  if (state.selection.ranges.some((r) => !r.empty)) return indentMore(view);
  view.dispatch(
    state.changeByRange((range) => {
      const line = state.doc.lineAt(range.head);
      const column = range.head - line.from;
      const spaces = " ".repeat(INDENT.length - (column % INDENT.length));
      return {
        changes: { from: range.head, insert: spaces },
        range: EditorSelection.cursor(range.head + spaces.length),
      };
    }),
    { userEvent: "input.indent", scrollIntoView: true }
  );
  return true;
}

function leaveWithTab() {
  let escaped = false;
  return Prec.highest(
    EditorView.domEventHandlers({
      keydown(event) {
        if (event.key === "Escape") {
          escaped = true;
          return false;
        }
        if (event.key === "Tab" && escaped) {
          escaped = false;
          return true; // handled here, default not prevented: the browser moves focus
        }
        if (!["Shift", "Control", "Alt", "Meta"].includes(event.key)) escaped = false;
        return false;
      },
      blur() {
        escaped = false;
        return false;
      },
    })
  );
}

// --- Enhancing a textarea -----------------------------------------------------------
const editors = new WeakMap();

function labelText(textarea) {
  if (!textarea.id) return "Code";
  const label = document.querySelector(`label[for="${CSS.escape(textarea.id)}"]`);
  return label ? label.textContent.trim() : "Code";
}

export function enhance(textarea) {
  if (editors.has(textarea)) return editors.get(textarea).view;
  const contentAttrs = { "aria-label": labelText(textarea) };
  const described = textarea.getAttribute("aria-describedby");
  if (described) contentAttrs["aria-describedby"] = described;

  const record = { view: null, base: null, sinceBase: null };
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        indentUnit.of(INDENT),
        EditorState.tabSize.of(4),
        python(),
        indentOnInput(),
        syntaxHighlighting(classHighlighter),
        bracketMatching(),
        highlightActiveLine(),
        errorLineField,
        leaveWithTab(),
        keymap.of([
          { key: "Tab", run: insertIndent, shift: indentLess },
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        EditorView.contentAttributes.of(contentAttrs),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          record.sinceBase = record.sinceBase.compose(update.changes);
          textarea.value = update.state.doc.toString();
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        }),
      ],
    }),
  });
  record.view = view;
  record.base = view.state.doc;
  record.sinceBase = ChangeSet.empty(view.state.doc.length);
  editors.set(textarea, record);

  textarea.insertAdjacentElement("afterend", view.dom);
  textarea.hidden = true;
  textarea.classList.add("cm-replaced");
  const wrapper = textarea.closest(".code-editor");
  if (wrapper) wrapper.classList.add("cm-enhanced");

  if (textarea.id) {
    for (const label of document.querySelectorAll(`label[for="${CSS.escape(textarea.id)}"]`)) {
      label.addEventListener("click", () => view.focus());
    }
  }
  const form = textarea.form;
  if (form) {
    // Already in sync after every change; this also covers FormData built mid-composition.
    form.addEventListener("formdata", (event) => {
      const code = view.state.doc.toString();
      textarea.value = code;
      if (textarea.name) event.formData.set(textarea.name, code);
    });
    form.addEventListener("submit", () => {
      textarea.value = view.state.doc.toString();
    }, true);
  }
  return view;
}

function recordFor(textarea) {
  const record = editors.get(textarea);
  if (!record) throw new Error("this textarea has no editor");
  return record;
}

// Replace the code (a version loaded back, say); line numbers from a verdict then
// refer to this code.
export function setCode(textarea, code) {
  const record = recordFor(textarea);
  const { view } = record;
  view.dispatch({
    changes: { from: 0, to: view.state.doc.length, insert: code },
    effects: setErrorLine.of(null),
  });
  record.base = view.state.doc;
  record.sinceBase = ChangeSet.empty(view.state.doc.length);
}

// Mark line `line` (1-based) of the code the editor was loaded with (the submission
// the page shows), followed through the learner's edits since; `{current: true}`
// counts lines in the code as it is now. `null` clears the mark.
export function markLine(textarea, line, options = {}) {
  const record = recordFor(textarea);
  const { view } = record;
  let target = null;
  if (line != null) {
    if (options.current) {
      if (line >= 1 && line <= view.state.doc.lines) target = line;
    } else if (line >= 1 && line <= record.base.lines) {
      const pos = record.sinceBase.mapPos(record.base.line(line).from, 1);
      target = view.state.doc.lineAt(pos).number;
    }
  }
  view.dispatch({ effects: setErrorLine.of(target) });
  return target;
}

export function markedLine(textarea) {
  const { view } = recordFor(textarea);
  let line = null;
  view.state.field(errorLineField).between(0, view.state.doc.length, (from) => {
    line = view.state.doc.lineAt(from).number;
    return false;
  });
  return line;
}

export function viewFor(textarea) {
  const record = editors.get(textarea);
  return record ? record.view : null;
}
