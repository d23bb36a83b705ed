// The fleet page refreshes its grid every 5 s without reloading the page (progressive enhancement: without
// script, a <noscript> meta refresh reloads it every 30 s).  A reply that is not the grid (the session ended)
// reloads the page, which then shows the sign-in form.
(function () {
  "use strict";
  var box = document.getElementById("fleet");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-refresh");
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (reply) {
      if (!reply.ok || reply.headers.get("X-Dashboard-Part") !== "grid") { window.location.reload(); return null; }
      return reply.text();
    }).then(function (html) {
      if (html !== null && html !== undefined) { box.innerHTML = html; box.setAttribute("data-updated", Date.now()); }
    }).catch(function () { /* the server is away: keep what is shown, try again */ });
  }
  window.setInterval(refresh, 5000);
}());
