// The run page's live tail (app/runpage): Server-Sent Events from /runs/{id}/events,
// after the last event the page shows. Each event's HTML is rendered (and escaped) by the
// server; the browser resumes from the last id it saw when the connection comes back.
"use strict";
(function () {
  var main = document.getElementById("run");
  if (!main) { return; }

  function showEnds(root) {  // a test run's output: its end (the verdict) in view
    var tails = root.querySelectorAll("pre.tail");
    for (var i = 0; i < tails.length; i++) { tails[i].scrollTop = tails[i].scrollHeight; }
  }
  showEnds(document);
  if (!window.EventSource) { return; }
  var timeline = document.getElementById("timeline");
  var live = document.getElementById("live");
  var statusEl = document.getElementById("run-status");
  var costEl = document.getElementById("run-cost");
  var tokensEl = document.getElementById("run-tokens");
  var modelsEl = document.getElementById("run-models");
  var cost = parseFloat(main.getAttribute("data-cost") || "0");
  var last = parseInt(main.getAttribute("data-last") || "0", 10);
  if (main.getAttribute("data-finished") === "1") { return; }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  function place(msg) {
    if (msg.seq <= last) { return; }  // already shown
    last = msg.seq;
    var group = document.getElementById(msg.group);
    if (!group) {
      timeline.appendChild(fragment(msg.group_html));
      group = document.getElementById(msg.group);
    }
    if (msg.heading_html) {
      var heading = group.querySelector(".gh");
      if (heading) { heading.replaceWith(fragment(msg.heading_html)); }
    }
    var events = group.querySelector(".events");
    events.appendChild(fragment(msg.html));
    showEnds(events.lastElementChild || events);
    if (typeof msg.cost_usd === "number" && costEl) {
      cost += msg.cost_usd;
      costEl.textContent = "$" + cost.toFixed(4);
    }
    if (typeof msg.tokens === "number" && tokensEl) {
      tokensEl.textContent = String(parseInt(tokensEl.textContent || "0", 10) + msg.tokens);
    }
    if (msg.model && modelsEl) {  // textContent: the model's name stays text
      var models = modelsEl.textContent === "none yet" ? [] : modelsEl.textContent.split(", ");
      if (models.indexOf(msg.model) < 0) { models.push(msg.model); }
      modelsEl.textContent = models.join(", ");
    }
    if (msg.status && statusEl) {
      statusEl.textContent = msg.status;
      statusEl.className = "status s-" + msg.status.replace(/[^a-z]/g, "");
    }
    if (msg.kind === "run_ended") {  // nothing left to cancel
      var cancel = document.querySelector(".b-cancel");
      if (cancel && cancel.form) { cancel.form.remove(); }
    }
  }

  var source = new EventSource(main.getAttribute("data-events") + "?after=" + last);
  source.onopen = function () { live.textContent = "Live: new events appear as they happen."; };
  source.onmessage = function (e) {
    try { place(JSON.parse(e.data)); } catch (err) { /* a malformed message is skipped */ }
  };
  source.addEventListener("end", function () {
    source.close();
    live.textContent = "The run has ended.";
  });
  source.onerror = function () {
    live.textContent = "Connection lost; reconnecting…";
  };
})();
