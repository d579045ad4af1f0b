/*
 * compose.js: the Contact form without page reloads (and the filter builder wherever a form
 * marked data-filter-form uses it: Rewards -> Pay a group).
 *
 * Without JavaScript every button of the form posts it and the server re-renders it ("+ Add
 * filter", "+ Add group", "Remove", "+ Add language", "Check recipients"). Here the same
 * buttons change the page in place, by cloning the <template> elements the server rendered
 * with the same markup, so both ways post the same field names. The live dry run itself is
 * htmx (hx-post on the form, hx-sync "queue last": a request is never aborted, which htmx
 * would log as an error); this file only asks it to run after a change made here.
 */
(function () {
  "use strict";

  // The Contact form, or another form that uses the filter builder (Rewards -> Pay a group).
  var form = document.querySelector("form[data-filter-form]");
  if (!form) {
    return;
  }
  var MAX_ROWS = 50;
  var MAX_GROUPS = 10;
  var OPERATORS = {};

  // The operator labels, read once from the row template (the server's words).
  (function readOperators() {
    var template = document.getElementById("compose-row-template");
    var probe = document.createElement("div");
    probe.appendChild(template.content.cloneNode(true));
    probe.querySelectorAll("[data-filter-op] option").forEach(function (option) {
      OPERATORS[option.value] = option.textContent;
    });
  })();

  function preview() {
    if (window.htmx) {
      window.htmx.trigger(form, "change");
    }
  }

  // The next free token ("r7", "g2") among the page's rows or groups.
  function nextToken(prefix, attribute) {
    var highest = -1;
    form.querySelectorAll("[" + attribute + "]").forEach(function (element) {
      var match = /^[a-z](\d+)$/.exec(element.getAttribute(attribute));
      if (match) {
        highest = Math.max(highest, Number(match[1]));
      }
    });
    return prefix + (highest + 1);
  }

  // A copy of a <template>'s element with its placeholders replaced (tokens are [a-z0-9] only).
  function fromTemplate(id, replacements) {
    var html = document.getElementById(id).innerHTML;
    Object.keys(replacements).forEach(function (placeholder) {
      html = html.split(placeholder).join(replacements[placeholder]);
    });
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  function groups() {
    return Array.prototype.slice.call(form.querySelectorAll("[data-groups] > [data-group]"));
  }

  function rows() {
    return form.querySelectorAll("[data-groups] [data-row]");
  }

  // Group legends, the top-level AND/OR choice, and the rows' accessible numbers.
  function renumber() {
    var all = groups();
    all.forEach(function (group, index) {
      group.querySelector("[data-group-legend]").textContent = "Group " + (index + 1);
      group.querySelectorAll("[data-row]").forEach(function (row, rowIndex) {
        var number = row.querySelector("[data-row-number]");
        if (number) {
          number.textContent = " " + (rowIndex + 1);
        }
      });
    });
    var filters = form.querySelector("[data-filters]");
    filters.classList.toggle("compose-filters--single", all.length < 2);
    form.querySelector("[data-top-match]").hidden = all.length < 2;
    var full = rows().length >= MAX_ROWS;
    form.querySelectorAll("[data-add-filter]").forEach(function (button) {
      button.disabled = full;
    });
    form.querySelector("[data-add-group]").disabled = full || all.length >= MAX_GROUPS;
  }

  function addRow(group) {
    if (rows().length >= MAX_ROWS) {
      return null;
    }
    var row = fromTemplate("compose-row-template", {
      __ROW__: nextToken("r", "data-row"),
      __GROUP__: group.getAttribute("data-group"),
    });
    group.querySelector("[data-rows]").appendChild(row);
    renumber();
    row.querySelector("[data-filter-key]").focus();
    return row;
  }

  function addGroup() {
    if (groups().length >= MAX_GROUPS || rows().length >= MAX_ROWS) {
      return;
    }
    var group = fromTemplate("compose-group-template", { __GROUP__: nextToken("g", "data-group") });
    form.querySelector("[data-groups]").appendChild(group);
    addRow(group);
  }

  function removeRow(row) {
    var group = row.closest("[data-group]");
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    var focusTarget = next ? next.querySelector("[data-filter-key]") : group.querySelector("[data-add-filter]");
    // A group left without rows goes too, unless it is the only one (as the server does).
    if (!group.querySelector("[data-row]") && groups().length > 1) {
      var neighbour = group.previousElementSibling || group.nextElementSibling;
      group.remove();
      focusTarget = neighbour.querySelector("[data-add-filter]");
    }
    renumber();
    focusTarget.focus();
    preview();
  }

  // The row's condition and value follow what it filters by (e.g. a skill takes "is at least").
  function keyChanged(select) {
    var row = select.closest("[data-row]");
    var option = select.selectedOptions[0];
    var operators = option && option.value ? option.getAttribute("data-ops").split(" ") : Object.keys(OPERATORS);
    var opSelect = row.querySelector("[data-filter-op]");
    var current = opSelect.value;
    opSelect.textContent = "";
    operators.forEach(function (operator) {
      var item = document.createElement("option");
      item.value = operator;
      item.textContent = OPERATORS[operator] || operator;
      opSelect.appendChild(item);
    });
    opSelect.value = operators.indexOf(current) >= 0 ? current : operators[0];
    var value = row.querySelector("[data-filter-value]");
    var list = option ? option.getAttribute("data-list") : "";
    if (list) {
      value.setAttribute("list", list);
    } else {
      value.removeAttribute("list");
    }
    var hint = option ? option.getAttribute("data-hint") : "";
    if (hint) {
      value.setAttribute("placeholder", hint);
    } else {
      value.removeAttribute("placeholder");
    }
    value.setAttribute("inputmode", (option && option.getAttribute("data-inputmode")) || "text");
  }

  function addLanguage(button) {
    var slot = form.querySelector("[data-language-slot]");
    if (slot.querySelector("[data-language]")) {
      return;
    }
    var fieldset = fromTemplate("compose-language-template", {});
    slot.appendChild(fieldset);
    var first = document.getElementById("lang-0").value;
    var select = document.getElementById("lang-1");
    var other = Array.prototype.find.call(select.options, function (option) {
      return option.value !== first;
    });
    select.value = other ? other.value : select.options[0].value;
    button.hidden = true;
    select.focus();
    preview();
  }

  function removeLanguage(fieldset) {
    fieldset.remove();
    var button = form.querySelector("[data-add-language]");
    button.hidden = false;
    button.focus();
    preview();
  }

  // Each control marked invalid when its feedback slot (just replaced by the preview) names it.
  function syncInvalid() {
    form.querySelectorAll(".compose-feedback").forEach(function (slot) {
      var flagged = {};
      slot.querySelectorAll("[data-problem-for]").forEach(function (problem) {
        flagged[problem.getAttribute("data-problem-for")] = true;
      });
      form.querySelectorAll('[aria-describedby~="' + slot.id + '"]').forEach(function (control) {
        if (control.type === "radio") {
          return;
        }
        if (flagged[control.id]) {
          control.setAttribute("aria-invalid", "true");
        } else {
          control.removeAttribute("aria-invalid");
        }
      });
    });
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) {
      return;
    }
    if (button.hasAttribute("data-add-filter")) {
      event.preventDefault();
      addRow(button.closest("[data-group]"));
    } else if (button.hasAttribute("data-add-group")) {
      event.preventDefault();
      addGroup();
    } else if (button.hasAttribute("data-remove-filter")) {
      event.preventDefault();
      removeRow(button.closest("[data-row]"));
    } else if (button.hasAttribute("data-add-language")) {
      event.preventDefault();
      addLanguage(button);
    } else if (button.hasAttribute("data-remove-language")) {
      event.preventDefault();
      removeLanguage(button.closest("[data-language]"));
    } else if (button.hasAttribute("data-check")) {
      event.preventDefault();
      preview();
    }
  });

  // Enter in a one-line field presses the hidden "Check recipients" button: preview in place.
  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && submitter.value === "check") {
      event.preventDefault();
      preview();
    }
  });

  form.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-filter-key]")) {
      keyChanged(event.target);
    }
  });

  // The preview answers with every field's feedback slot, swapped out of band by id. A row
  // removed while its preview was on the way has no slot any more: drop its part of the answer
  // (htmx would report the missing target as an error).
  form.addEventListener("htmx:beforeSwap", function (event) {
    var answer = event.detail.serverResponse;
    if (typeof answer !== "string" || answer.indexOf("hx-swap-oob") < 0) {
      return;
    }
    var parsed = document.createElement("template");
    parsed.innerHTML = answer;
    var dropped = false;
    parsed.content.querySelectorAll("[hx-swap-oob]").forEach(function (element) {
      if (!element.id || !document.getElementById(element.id)) {
        element.remove();
        dropped = true;
      }
    });
    if (dropped) {
      event.detail.serverResponse = parsed.innerHTML;
    }
  });

  document.body.addEventListener("htmx:afterSettle", syncInvalid);
  renumber();
})();
