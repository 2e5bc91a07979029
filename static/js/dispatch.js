// Weekly dispatch sheet: one box ticks "file unchanged" on every row, so a county with many
// quiet projects files them all in one submit. Without JavaScript the box stays hidden and
// each row is ticked by hand.
(function () {
  "use strict";
  var all = document.getElementById("confirm-all");
  if (!all) return;
  var boxes = document.querySelectorAll('#dispatch-form input[type=checkbox][name$="-confirm"]');
  if (!boxes.length) return;
  all.hidden = false;
  document.getElementById("confirm-all-label").hidden = false;
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
})();
