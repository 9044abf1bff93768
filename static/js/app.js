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

  // ------------------------------------------------------------ the contact dialog and its URL
  // Opening a contact's log pushes the campaign page's URL with `contact=ID` (its filters kept);
  // Back closes the dialog; a copied link renders the page with the dialog, opened here as a modal.

  var CONTACT = "contact";
  var base = null; // the URL the dialog was opened over (what Back returns to), normalised
  var pushedFor = null; // the contact whose dialog pushed the current history entry
  var refocus = null; // where the focus goes back to once a closed dialog's history step is done

  function withContact(href, id) {
    var url = new URL(href);
    url.hash = "";
    if (id === null) { url.searchParams.delete(CONTACT); } else { url.searchParams.set(CONTACT, id); }
    return url.toString();
  }

  function showDialog(dialog, push) {
    var id = dialog.getAttribute("data-contact-id");
    if (dialog.open) { dialog.removeAttribute("open"); } // rendered open for browsers without JS
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (document.querySelector("dialog.contact-dialog[open]")) { return; } // Forward opened another
      var link = opener && document.body.contains(opener) ? opener
        : document.querySelector('a.contact-link[href="/contacts/' + id + '"]');
      refocus = link || document.getElementById("main");
      opener = null;
      refocus.focus();
      if (!dialog.closedByHistory) {
        if (pushedFor === id) {
          history.back(); // the entry this dialog pushed: Escape and Back end in the same place
        } else if (new URL(location.href).searchParams.get(CONTACT) === id) {
          history.replaceState(history.state, "", withContact(location.href, null));
        }
      }
      if (pushedFor === id) { pushedFor = null; }
    });
    dialog.showModal();
    if (push && document.getElementById("contacts")) {
      base = withContact(location.href, null);
      history.pushState({ contactDialog: id }, "", withContact(location.href, id));
      pushedFor = id;
    }
  }

  // Registered before htmx sets its own popstate handler (htmx does at DOMContentLoaded): the
  // entries the dialog adds are ours to handle, and Back to the table needs no redraw.
  window.addEventListener("popstate", function (e) {
    var wanted = e.state && e.state.contactDialog;
    var dialog = document.querySelector("dialog.contact-dialog[open]");
    if (dialog && dialog.getAttribute("data-contact-id") !== wanted) {
      dialog.closedByHistory = true;
      dialog.close();
    }
    if (wanted) {
      // Forward again (or Back from a later entry): the same table with that contact's log.
      if (!dialog || dialog.getAttribute("data-contact-id") !== wanted) {
        pushedFor = wanted;
        window.htmx.ajax("GET", "/contacts/" + wanted, { target: "#dialog-root", swap: "innerHTML" });
      }
      e.stopImmediatePropagation();
    } else if (base !== null && withContact(location.href, null) === base) {
      e.stopImmediatePropagation(); // the table under the dialog is already this entry's
      // The entry may end in a fragment (#main, from the skip link) the browser moves to after
      // this event: the focus goes back to the contact once it has.
      var back = refocus;
      if (back) { setTimeout(function () { if (document.body.contains(back)) { back.focus(); } }, 0); }
    }
    refocus = null;
  });

  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.contact-link");
    if (link) { opener = link; }
  });

  // ------------------------------------------------------------ focus after a new page of contacts

  function afterPager(e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (!elt || !elt.closest || !elt.closest("nav.pager")) { return; }
    var title = document.getElementById("contacts-title");
    if (title) {
      title.scrollIntoView({ block: "start" });
      title.focus({ preventScroll: true });
    }
  }

  // ------------------------------------------------------------ an import's live progress

  var announced = null;

  function announce(text) {
    var status = document.getElementById("progress-status");
    if (status && text && text !== announced) {
      announced = text;
      status.textContent = text;
    }
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "progress" || e.detail.isError) { return; }
    var next = new DOMParser().parseFromString(e.detail.serverResponse, "text/html")
      .getElementById("progress");
    if (!next) { return; }
    announce(next.getAttribute("data-announce"));
    if (next.getAttribute("data-state") !== target.getAttribute("data-state")) { return; }
    // Still the same state: new figures in place; the buttons (and whoever is on them) stay.
    e.detail.shouldSwap = false;
    target.querySelectorAll("[data-live]").forEach(function (el) {
      var fresh = next.querySelector('[data-live="' + el.getAttribute("data-live") + '"]');
      if (fresh) { el.replaceWith(fresh); }
    });
  });

  // ------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var progress = document.getElementById("progress");
    if (progress) { announced = progress.getAttribute("data-announce"); }
    var dialog = document.querySelector("dialog.contact-dialog[data-open-on-load]");
    if (dialog) { showDialog(dialog, false); }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    localTimes(e.target);
    afterPager(e);
    var dialog = e.target.querySelector && e.target.querySelector("dialog.contact-dialog");
    if (dialog && !dialog.matches(":modal")) {
      var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
      showDialog(dialog, Boolean(elt && elt.matches && elt.matches("a.contact-link")));
    }
  });
})();
