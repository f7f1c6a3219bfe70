"use strict";
(function () {
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var COL = { run: 0, scenario: 1, trial: 2, set: 3, diagnosis: 4, reference: 5, correct: 6,
    termination: 7, turns: 8, tests: 9, cost: 10, tags: 11, grade: 12 };
  var NUMERIC = { trial: 1, turns: 1, tests: 1, cost: 1, correct: 1 };
  var ACTORS = { doctor: "Doctor", patient: "Patient", measurement: "Result", tool: "Tool",
    judge: "Judge", system: "" };
  var rows = DATA.rows;
  var tbody = document.querySelector("#episode-table tbody");
  var trs = [];
  var searchText = [];
  var openRow = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "class") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function runName(row) { return DATA.runs[row[COL.run]]; }

  function buildTable() {
    var frag = document.createDocumentFragment();
    rows.forEach(function (row, i) {
      var ok = row[COL.correct];
      var tr = el("tr", { "data-row": String(i) }, [
        el("td", { text: runName(row) }),
        el("td", { text: row[COL.scenario] }),
        el("td", { class: "num", text: String(row[COL.trial]) }),
        el("td", { text: row[COL.set] }),
        el("td", { text: row[COL.diagnosis] == null ? "-" : row[COL.diagnosis] }),
        el("td", { text: row[COL.reference] }),
        el("td", { class: ok ? "yes" : "no", text: ok ? "yes" : "no" }),
        el("td", { text: row[COL.termination] }),
        el("td", { class: "num", text: String(row[COL.turns]) }),
        el("td", { class: "num", text: String(row[COL.tests]) }),
        el("td", { class: "num", text: row[COL.cost].toFixed(2) })
      ]);
      trs.push(tr);
      var tags = row[COL.tags] ? Object.keys(row[COL.tags]).map(function (k) {
        return k + " " + row[COL.tags][k];
      }).join(" ") : "";
      searchText.push([runName(row), row[COL.scenario], row[COL.set], row[COL.diagnosis] || "",
        row[COL.reference], row[COL.termination], tags].join(" ").toLowerCase());
      frag.appendChild(tr);
    });
    tbody.appendChild(frag);
    tbody.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr");
      if (tr) openEpisode(Number(tr.getAttribute("data-row")), null);
    });
  }

  function applyFilters() {
    var run = document.getElementById("filter-run").value;
    var set = document.getElementById("filter-set").value;
    var reason = document.getElementById("filter-reason").value;
    var correct = document.getElementById("filter-correct").value;
    var text = document.getElementById("filter-text").value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var keep = (!run || runName(row) === run) && (!set || row[COL.set] === set) &&
        (!reason || row[COL.termination] === reason) &&
        (!correct || (correct === "yes") === row[COL.correct]) &&
        (!text || searchText[i].indexOf(text) !== -1);
      trs[i].hidden = !keep;
      if (keep) shown += 1;
    });
    document.getElementById("episode-count").textContent =
      "showing " + shown + " of " + rows.length + " episodes";
  }

  function sortBy(th) {
    var col = th.getAttribute("data-col");
    var dir = th.getAttribute("data-sort") === "asc" ? "desc" : "asc";
    document.querySelectorAll("#episode-table thead th").forEach(function (h) {
      h.removeAttribute("data-sort");
    });
    th.setAttribute("data-sort", dir);
    var key = col === "run" ? function (r) { return runName(r); } : function (r) { return r[COL[col]]; };
    var order = rows.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var x = key(rows[a]), y = key(rows[b]);
      if (x == null) x = NUMERIC[col] ? -Infinity : "";
      if (y == null) y = NUMERIC[col] ? -Infinity : "";
      var c = NUMERIC[col] ? Number(x) - Number(y) : String(x).localeCompare(String(y));
      return dir === "asc" ? c : -c;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (i) { frag.appendChild(trs[i]); });
    tbody.appendChild(frag);
  }

  function partners(i) {
    var row = rows[i];
    var out = [];
    rows.forEach(function (other, j) {
      if (j !== i && other[COL.scenario] === row[COL.scenario] && other[COL.trial] === row[COL.trial] &&
          other[COL.run] !== row[COL.run]) out.push(j);
    });
    return out;
  }

  function pretty(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function entryBody(entry) {
    var kind = entry[2], text = entry[3], data = entry[4] || {}, images = entry[5] || [];
    var what = el("div", { class: "what" });
    if (kind === "model_call") {
      var label = "model call: " + (data.role || "") + " \u2192 " + (data.model || "");
      if (data.tokens != null) label += " (" + data.tokens + " tokens";
      if (data.latency_s != null) label += (data.tokens != null ? ", " : " (") + Number(data.latency_s).toFixed(2) + " s";
      if (data.tokens != null || data.latency_s != null) label += ")";
      var details = el("details", null, [el("summary", { text: label }), el("pre", { text: text })]);
      if (data.prompt) {
        details.appendChild(el("details", null, [
          el("summary", { text: "prompt (last of " + (data.messages || 1) + " messages)" }),
          el("pre", { text: data.prompt })]));
      }
      if (data.error) details.appendChild(el("div", { class: "error", text: "error: " + data.error }));
      what.appendChild(details);
      return what;
    }
    if (kind === "tool_call") {
      what.appendChild(el("div", { text: (data.tool || "tool") + "(\u2026)" }));
      what.appendChild(el("pre", { text: pretty(data.arguments || {}) }));
      return what;
    }
    what.appendChild(document.createTextNode(text));
    if (kind === "tool_result" && data.error) what.appendChild(el("div", { class: "error", text: "error: " + data.error }));
    if (kind === "tool_result" && data.data != null) {
      what.appendChild(el("details", null, [el("summary", { text: "data" }), el("pre", { text: pretty(data.data) })]));
    }
    if (kind === "test_result" && data.available === false) what.appendChild(el("div", { class: "hint", text: "not in the scenario" }));
    if (kind === "diagnosis" && data.differential && data.differential.length) {
      what.appendChild(el("div", { class: "hint", text: "differential: " + data.differential.join("; ") }));
    }
    images.forEach(function (key) {
      var img = DATA.images[key];
      if (!img) { what.appendChild(el("div", { class: "hint", text: "image " + key + " not included" })); return; }
      what.appendChild(el("figure", null, [el("img", { src: img.src, alt: img.caption || key }),
        el("figcaption", { class: "hint", text: img.caption || key })]));
    });
    return what;
  }

  function pane(i) {
    var row = rows[i];
    var ok = row[COL.correct];
    var box = el("div", { class: "pane", "data-row": String(i) }, [
      el("h3", { text: runName(row) + " \u2014 " + row[COL.scenario] + " (trial " + row[COL.trial] + ")" }),
      el("div", { class: "outcome " + (ok ? "yes" : "no"),
        text: (ok ? "correct: " : "incorrect: ") + (row[COL.diagnosis] == null ? "no diagnosis" : row[COL.diagnosis]) +
          " \u2014 reference: " + row[COL.reference] + " \u2014 ended: " + row[COL.termination] })
    ]);
    var entries = DATA.transcripts[String(i)];
    if (!entries) { box.appendChild(el("p", { class: "hint", text: "No transcript stored for this episode." })); return box; }
    var turn = -1;
    entries.forEach(function (entry) {
      if (entry[0] !== turn && entry[0] > 0) {
        turn = entry[0];
        box.appendChild(el("div", { class: "turn", text: "turn " + turn }));
      }
      var actor = entry[1], kind = entry[2];
      box.appendChild(el("div", { class: "entry " + kind }, [
        el("div", { class: "who " + actor, text: ACTORS[actor] === undefined ? actor : ACTORS[actor] }),
        entryBody(entry)
      ]));
    });
    return box;
  }

  function openEpisode(i, other) {
    var viewer = document.getElementById("viewer");
    var select = document.getElementById("viewer-other");
    if (openRow !== null) trs[openRow].classList.remove("open");
    openRow = i;
    trs[i].classList.add("open");
    while (select.options.length > 1) select.remove(1);
    partners(i).forEach(function (j) {
      select.appendChild(el("option", { value: String(j), text: runName(rows[j]) }));
    });
    select.disabled = select.options.length === 1;
    select.value = other === null ? "" : String(other);
    document.getElementById("viewer-title").textContent =
      rows[i][COL.scenario] + " (trial " + rows[i][COL.trial] + ")";
    showPanes(i, other);
    viewer.hidden = false;
    viewer.scrollIntoView({ block: "start" });
  }

  function showPanes(i, other) {
    var panes = document.getElementById("viewer-panes");
    while (panes.firstChild) panes.removeChild(panes.firstChild);
    panes.appendChild(pane(i));
    if (other !== null) panes.appendChild(pane(other));
    panes.classList.toggle("two", other !== null);
  }

  function findRow(run, scenario, trial) {
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (runName(r) === run && r[COL.scenario] === scenario && r[COL.trial] === trial) return i;
    }
    return null;
  }

  function wire() {
    ["filter-run", "filter-set", "filter-reason", "filter-correct"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", applyFilters);
    });
    document.getElementById("filter-text").addEventListener("input", applyFilters);
    document.querySelectorAll("#episode-table thead th").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(th); });
    });
    document.getElementById("viewer-other").addEventListener("change", function (ev) {
      var v = ev.target.value;
      showPanes(openRow, v === "" ? null : Number(v));
    });
    document.getElementById("viewer-close").addEventListener("click", function () {
      document.getElementById("viewer").hidden = true;
      if (openRow !== null) trs[openRow].classList.remove("open");
    });
    document.querySelectorAll("button.side-by-side").forEach(function (b) {
      b.addEventListener("click", function () {
        var trial = Number(b.getAttribute("data-trial"));
        var a = findRow(b.getAttribute("data-run-a"), b.getAttribute("data-scenario"), trial);
        var c = findRow(b.getAttribute("data-run-b"), b.getAttribute("data-scenario"), trial);
        if (a !== null) openEpisode(a, c);
      });
    });
  }

  buildTable();
  wire();
  applyFilters();
  document.documentElement.setAttribute("data-ready", "true");
  if (window.performance && performance.mark) performance.mark("report-ready");
})();
