/*
 * editor.js: a small toolbar over a message's <textarea> (Bold, Italic, Bulleted list, Numbered
 * list, Link). It edits the markup text itself: the selection is wrapped in tags of the HTML
 * subset messages allow (b, i, ul/ol + li, a href), so what is posted is exactly what the
 * requester sees in the box; no contenteditable, nothing hidden. Without JavaScript the
 * toolbar stays hidden (compose.css) and the textarea takes the same HTML or plain text.
 *
 * Toolbars are found by delegation, so ones added later (the second language) work too.
 * Shortcuts in the textarea: Ctrl/Cmd+B, Ctrl/Cmd+I, Ctrl/Cmd+K.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("has-editor");

  var WRAPS = { bold: ["<b>", "</b>"], italic: ["<i>", "</i>"] };
  var SHORTCUTS = { b: "bold", i: "italic", k: "link" };
  var URL = /^https?:\/\/[^\s"'<>]+$/;

  // Replaces the selection with `text` (undoable where the browser allows), then selects
  // [from, to) of the new text.
  function insert(textarea, start, end, text, from, to) {
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var done = false;
    try {
      done = document.execCommand("insertText", false, text);
    } catch (error) {
      done = false;
    }
    if (!done || textarea.value.slice(start, start + text.length) !== text) {
      textarea.setRangeText(text, start, end, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
    textarea.setSelectionRange(start + from, start + to);
  }

  function escapeText(text) {
    return text.replace(/&(?!\w+;|#\d+;)/g, "&amp;");
  }

  function apply(textarea, command) {
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    var selected = textarea.value.slice(start, end);
    if (WRAPS[command]) {
      var open = WRAPS[command][0];
      var close = WRAPS[command][1];
      insert(textarea, start, end, open + selected + close, open.length, open.length + selected.length);
    } else if (command === "link") {
      var trimmed = selected.trim();
      if (URL.test(trimmed)) {
        // A selected address becomes the link and its text; the text is selected to rename it.
        var linkText = '<a href="' + trimmed + '">';
        insert(textarea, start, end, linkText + trimmed + "</a>", linkText.length, linkText.length + trimmed.length);
      } else {
        // Selected words become the link's text; "https://" is selected, ready for the address.
        var label = selected || "link text";
        var anchor = '<a href="https://">' + escapeText(label) + "</a>";
        insert(textarea, start, end, anchor, 9, 17);
      }
    } else if (command === "ul" || command === "ol") {
      var lines = selected.split(/\r?\n/).filter(function (line) {
        return line.trim() !== "";
      });
      var items = (lines.length ? lines : [""]).map(function (line) {
        return "  <li>" + line.trim() + "</li>";
      });
      var list = "<" + command + ">\n" + items.join("\n") + "\n</" + command + ">";
      var firstItem = ("<" + command + ">\n  <li>").length;
      if (lines.length) {
        insert(textarea, start, end, list, 0, list.length);
      } else {
        insert(textarea, start, end, list, firstItem, firstItem);
      }
    }
  }

  function textareaOf(element) {
    var toolbar = element.closest("[data-editor-for]");
    return toolbar ? document.getElementById(toolbar.getAttribute("data-editor-for")) : null;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-command]") : null;
    if (!button) {
      return;
    }
    var textarea = textareaOf(button);
    if (textarea) {
      event.preventDefault();
      apply(textarea, button.getAttribute("data-command"));
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) {
      return;
    }
    if (!target.matches || !target.matches("textarea[data-editor]")) {
      return;
    }
    var command = SHORTCUTS[event.key.toLowerCase()];
    if (command) {
      event.preventDefault();
      apply(target, command);
    }
  });
})();
