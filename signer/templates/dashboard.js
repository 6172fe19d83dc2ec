(function () {
  "use strict";
  // Countdowns keep running after the page was generated; colours follow each role's
  // warning window (data-warn, seconds), as `firmtuf status` applies it.
  function left(s) {
    if (s <= 0) { return "expired"; }
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    return d ? d + " d " + h + " h" : h + " h " + m + " min";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var s = Number(el.getAttribute("data-expires")) - now;
      var warn = Number(el.getAttribute("data-warn"));
      el.textContent = left(s);
      el.classList.toggle("expired", s <= 0);
      el.classList.toggle("warn", s > 0 && s <= warn);
      el.classList.toggle("ok", s > warn);
    });
    document.body.setAttribute("data-live", "1");
  }
  tick();
  window.setInterval(tick, 30000);
})();
