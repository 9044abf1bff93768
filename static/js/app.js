// Progressive enhancement only: every page works without it.
(function () {
  "use strict";
  var opener = null;

  // Times are rendered in UTC; show them in the viewer's own timezone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
        el.title = el.getAttribute("datetime");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });

  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.contact-link");
    if (link) { opener = link; }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    localTimes(e.target);
    var dialog = e.target.querySelector && e.target.querySelector("dialog.contact-dialog");
    if (dialog && !dialog.open) {
      dialog.addEventListener("close", function () {
        dialog.remove();
        if (opener) { opener.focus(); }
      });
      dialog.showModal();
    }
  });
})();
