// Weekly dispatch sheet.
// 1. One box ticks "file unchanged" on every row, so a county with many quiet projects files
//    them all in one submit. Without JavaScript the box stays hidden and each row is ticked
//    by hand.
// 2. A manager's "reason for lowering the figure" field is shown in a row only while its
//    cumulative figure is below the row's floor (the project's current figure or its previous
//    report) or above a later week's report, or when it has a message or a value. Without
//    JavaScript every manager row shows it (it is optional unless the figure goes down).
(function () {
  "use strict";
  var form = document.getElementById("dispatch-form");
  if (!form) return;

  var all = document.getElementById("confirm-all");
  var boxes = form.querySelectorAll('input[type=checkbox][name$="-confirm"]');
  if (all && boxes.length) {
    all.hidden = false;
    document.getElementById("confirm-all-label").hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  }

  function number(text) {
    var value = parseFloat(String(text || "").replace(/[,，\s\u3000]/g, ""));
    return isNaN(value) ? null : value;
  }

  form.querySelectorAll("[data-reason]").forEach(function (reason) {
    var cell = reason.closest("td");
    var figure = cell.querySelector('input[name^="row-"][name$="-completed_investment"]');
    var text = reason.querySelector("input");
    if (!figure || !text) return;
    var floor = number(cell.getAttribute("data-floor"));
    var ceiling = number(cell.getAttribute("data-ceiling"));
    function update() {
      var done = number(figure.value);
      var outside = done !== null && ((floor !== null && done < floor) ||
        (ceiling !== null && done > ceiling));
      reason.hidden = !(outside || reason.hasAttribute("data-needed") || text.value);
    }
    figure.addEventListener("input", update);
    update();
  });
})();
