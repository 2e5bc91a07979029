// Behaviour every page shares, loaded with defer by templates/base.html. The site's
// Content-Security-Policy runs no inline script, so markup asks for behaviour with a
// data attribute instead of an on…= handler:
// - <select data-autosubmit> submits its form as soon as another option is chosen (the
//   language, the dispatch sheet's region, the dashboard's year); without JavaScript the
//   form's own button (in <noscript> where there is one) does it;
// - <button data-print> opens the browser's print dialog.
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
})();
