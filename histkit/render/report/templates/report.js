// Sorting and filtering of the runs table; our own code, no library, no network.
// State lives in the URL fragment (#sort=-best_val_loss&filter=Adam) so a view can be shared.
(function () {
  "use strict";
  var table = document.getElementById("runs");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var state = { key: null, desc: false, filter: "" };

  function value(row, index, numeric) {
    var cell = row.cells[index];
    var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
    if (v === "") { return null; }
    if (numeric) { var x = parseFloat(v); return isNaN(x) ? null : x; }
    return v.toLowerCase();
  }

  function sortBy(key, desc) {
    var index = heads.findIndex(function (th) { return th.dataset.key === key; });
    if (index < 0) { return; }
    var numeric = heads[index].dataset.type === "num";
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {          // Array.sort is stable: ties keep their order
      var x = value(a, index, numeric), y = value(b, index, numeric);
      if (x === y) { return 0; }
      if (x === null) { return 1; }      // blanks last, either direction
      if (y === null) { return -1; }
      return (x < y ? -1 : 1) * (desc ? -1 : 1);
    });
    rows.forEach(function (row) { tbody.appendChild(row); });
    heads.forEach(function (th, i) {
      if (th.dataset.key) { th.setAttribute("aria-sort", i === index ? (desc ? "descending" : "ascending") : "none"); }
    });
    state.key = key;
    state.desc = desc;
  }

  function applyFilter(text) {
    var terms = text.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    Array.prototype.forEach.call(tbody.rows, function (row) {
      var hay = row.textContent.toLowerCase();
      var keep = terms.every(function (t) { return hay.indexOf(t) >= 0; });
      row.hidden = !keep;
      if (keep) { n += 1; }
    });
    shown.textContent = String(n);
    state.filter = text;
  }

  function saveState() {
    var parts = [];
    if (state.key) { parts.push("sort=" + (state.desc ? "-" : "") + encodeURIComponent(state.key)); }
    if (state.filter) { parts.push("filter=" + encodeURIComponent(state.filter)); }
    try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// may refuse */ }
  }

  function loadState() {
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq < 0) { return; }
      var k = part.slice(0, eq), v = decodeURIComponent(part.slice(eq + 1));
      if (k === "sort" && v) { sortBy(v.replace(/^-/, ""), v.charAt(0) === "-"); }
      if (k === "filter") { filter.value = v; applyFilter(v); }
    });
  }

  heads.forEach(function (th) {
    var button = th.querySelector("button");
    if (!button || !th.dataset.key) { return; }
    button.addEventListener("click", function () {
      sortBy(th.dataset.key, state.key === th.dataset.key ? !state.desc : false);
      saveState();
    });
  });
  filter.addEventListener("input", function () { applyFilter(filter.value); saveState(); });

  // Mark figures that failed to load, so a broken report is visible at a glance.
  window.addEventListener("load", function () {
    var broken = 0;
    Array.prototype.forEach.call(document.images, function (img) {
      if (img.complete && img.naturalWidth === 0) { img.classList.add("broken"); broken += 1; }
    });
    document.body.setAttribute("data-broken-images", String(broken));
  });

  loadState();
}());
