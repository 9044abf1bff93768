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

  // ------------------------------------------------------------ the menu on a phone
  // Without JavaScript the menu is always shown (the CSS hides it only when scripting is on).

  function menuParts() {
    var toggle = document.querySelector(".nav-toggle");
    var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    return menu ? { toggle: toggle, menu: menu } : null;
  }

  function setMenu(open) {
    var parts = menuParts();
    if (!parts) { return; }
    parts.menu.classList.toggle("open", open);
    parts.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest(".nav-toggle")) {
      setMenu(e.target.closest(".nav-toggle").getAttribute("aria-expanded") !== "true");
    }
  });

  document.addEventListener("keydown", function (e) {
    var parts = menuParts();
    if (e.key === "Escape" && parts && parts.menu.classList.contains("open") &&
        parts.menu.contains(document.activeElement)) {
      setMenu(false);
      parts.toggle.focus();
    }
  });

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
