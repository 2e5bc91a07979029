// Behaviour every page shares, loaded with defer by templates/base.html. The site's
// Content-Security-Policy runs no inline script, so markup asks for behaviour with a
// data attribute instead of an on…= handler:
// - <select data-autosubmit> submits its form as soon as another option is chosen (the
//   language, the dispatch sheet's region, the dashboard's year); without JavaScript the
//   form's own button (in <noscript> where there is one) does it;
// - <button data-print> opens the browser's print dialog;
// - <button data-menu-toggle aria-controls=ID> (the header's 菜单 on a phone) shows and hides
//   the menu ID, saying so in aria-expanded; phone.css hides the menu while it is "false".
//   Escape closes an open menu and gives the focus back to its button.
//   Without JavaScript the button stays hidden and the menu stays open.
// - a table that scrolls sideways inside its own box (phone.css on a narrow screen) is made
//   focusable, so a keyboard user can reach and scroll it (axe: scrollable-region-focusable).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });
  document.querySelectorAll("[data-menu-toggle]").forEach(function (toggle) {
    toggle.hidden = false;
    toggle.parentElement.classList.add("has-menu-toggle");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
  function focusableScrollBoxes() {
    document.querySelectorAll("main table, main .table-container, main .table-scroll").forEach(
      function (box) {
        var scrolls = box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible";
        if (scrolls && !box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.dataset.scrollFocus = "";
        } else if (!scrolls && box.hasAttribute("data-scroll-focus")) {
          box.removeAttribute("tabindex");
          box.removeAttribute("data-scroll-focus");
        }
      }
    );
  }
  focusableScrollBoxes();
  window.addEventListener("resize", focusableScrollBoxes);
  document.addEventListener("keydown", function (event) {
    var toggle = document.querySelector('[data-menu-toggle][aria-expanded="true"]');
    if (event.key === "Escape" && toggle) {
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
})();
