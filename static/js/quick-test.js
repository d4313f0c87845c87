/* Saga School Quick Test, enhanced here (self-written, no library). Every page
   works without it: the forms post and the ordering question has a position
   select per item.
   - A refused answer comes back as 4xx with the question (the reason beside it,
     the learner's choices kept) or a notice; htmx does not swap 4xx by default,
     so the Quick Test's own refusals (marked by the X-Quick-Test-Refusal header)
     are let through here, into the question's region only.
   - An ordering question becomes a list reordered by dragging an item's handle
     (mouse, pen or finger: pointer events) or by keyboard (each item's Up and
     Down buttons; Alt+ArrowUp and Alt+ArrowDown on them). The selects stay in
     the form, hidden, and always hold the shown order, so the form posts the
     same fields as without JavaScript. */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var refused = detail.xhr && detail.xhr.getResponseHeader("X-Quick-Test-Refusal");
    if (refused && detail.target && detail.target.id === "quiz-region") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function textOf(item) {
    return item.querySelector("label").textContent.trim();
  }

  function enhance(list) {
    if (list.dataset.enhanced) return;
    list.dataset.enhanced = "true";
    var items = Array.prototype.slice.call(list.children);
    var size = items.length;
    var status = make("p", "ordering-status visually-hidden");
    status.setAttribute("role", "status");
    list.parentNode.insertBefore(status, list.nextSibling);
    var help = document.getElementById("ordering-help");
    if (help && help.dataset.reorderHelp) help.textContent = help.dataset.reorderHelp;

    // Start from what the selects hold (kept after a refused answer), the rest in the shown order.
    var start = items.map(function (item, shown) {
      var value = parseInt(item.querySelector("select").value, 10);
      return { item: item, key: isNaN(value) ? size + 1 : value, shown: shown };
    });
    start.sort(function (a, b) { return a.key - b.key || a.shown - b.shown; });
    start.forEach(function (entry) { list.appendChild(entry.item); });

    items.forEach(function (item) {
      var select = item.querySelector("select");
      var text = textOf(item);
      select.hidden = true;
      if (select.getAttribute("aria-invalid") === "true") item.classList.add("invalid");
      var handle = make("span", "drag-handle");
      handle.setAttribute("aria-hidden", "true");
      handle.title = "Drag to move";
      var number = make("span", "position-number");
      number.setAttribute("aria-hidden", "true");
      var moves = make("span", "moves");
      var up = make("button", "secondary small move-up", "Up");
      var down = make("button", "secondary small move-down", "Down");
      up.type = down.type = "button";
      up.setAttribute("aria-label", "Move \u201c" + text + "\u201d up");
      down.setAttribute("aria-label", "Move \u201c" + text + "\u201d down");
      moves.appendChild(up);
      moves.appendChild(down);
      item.insertBefore(number, item.firstChild);
      item.insertBefore(handle, item.firstChild);
      item.appendChild(moves);

      up.addEventListener("click", function () { move(item, -1, up); });
      down.addEventListener("click", function () { move(item, 1, down); });
      moves.addEventListener("keydown", function (event) {
        if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
        event.preventDefault();
        move(item, event.key === "ArrowUp" ? -1 : 1, event.target);
      });
      handle.addEventListener("pointerdown", function (event) { drag(item, event); });
    });
    list.classList.add("reorderable");
    sync();

    function position(item) {
      return Array.prototype.indexOf.call(list.children, item) + 1;
    }

    function announce(item) {
      status.textContent = textOf(item) + ": position " + position(item) + " of " + size;
    }

    function sync() {
      Array.prototype.forEach.call(list.children, function (item, index) {
        item.querySelector("select").value = String(index + 1);
        item.querySelector(".position-number").textContent = String(index + 1);
        item.querySelector(".move-up").setAttribute("aria-disabled", String(index === 0));
        item.querySelector(".move-down").setAttribute("aria-disabled", String(index === size - 1));
      });
    }

    function move(item, step, focus) {
      var target = step < 0 ? item.previousElementSibling : item.nextElementSibling;
      if (target) {
        list.insertBefore(item, step < 0 ? target : target.nextElementSibling);
        sync();
      }
      if (focus) focus.focus();
      announce(item);
    }

    function drag(item, event) {
      if (event.button !== 0) return;
      event.preventDefault();
      item.classList.add("dragging");
      function follow(moveEvent) {
        var before = null;
        var others = Array.prototype.filter.call(list.children, function (other) { return other !== item; });
        for (var i = 0; i < others.length; i++) {
          var box = others[i].getBoundingClientRect();
          if (moveEvent.clientY < box.top + box.height / 2) { before = others[i]; break; }
        }
        if (item.nextElementSibling !== before || (before === null && list.lastElementChild !== item)) {
          list.insertBefore(item, before);
          sync();
        }
      }
      function drop() {
        document.removeEventListener("pointermove", follow);
        document.removeEventListener("pointerup", drop);
        document.removeEventListener("pointercancel", drop);
        item.classList.remove("dragging");
        sync();
        announce(item);
      }
      document.addEventListener("pointermove", follow);
      document.addEventListener("pointerup", drop);
      document.addEventListener("pointercancel", drop);
    }
  }

  function enhanceAll(root) {
    var lists = (root.querySelectorAll ? root : document).querySelectorAll("ol[data-reorder]");
    Array.prototype.forEach.call(lists, enhance);
    if (root.matches && root.matches("ol[data-reorder]")) enhance(root);
  }

  enhanceAll(document);
  // afterSwap comes before htmx's settle delay, so the selects do not flash; load covers the rest.
  document.addEventListener("htmx:afterSwap", function (event) { enhanceAll(event.detail.target || event.target); });
  document.addEventListener("htmx:load", function (event) { enhanceAll(event.target); });
})();
