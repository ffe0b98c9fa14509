// The runs list, live: its first page is fetched again every few seconds while it is
// visible, and the table is swapped for the new one (same origin, the server's own HTML).
"use strict";
(function () {
  var box = document.getElementById("runs-live");
  if (!box) return;
  var every = 3000;
  function refresh() {
    if (document.visibilityState !== "visible") return;
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("runs-live");
        if (fresh) box.replaceChildren.apply(box, Array.from(fresh.childNodes));
      })
      .catch(function () { /* the next tick tries again */ });
  }
  setInterval(refresh, every);
})();
