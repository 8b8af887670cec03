// Optional comforts of the portal (every page works without this script): drag a workbook onto the
// upload form, and the board refreshes itself every minute.
(function () {
  "use strict";
  var form = document.querySelector("form.upload");
  if (form) {
    var input = form.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (ev) {
      form.addEventListener(ev, function (e) { e.preventDefault(); form.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      form.addEventListener(ev, function (e) { e.preventDefault(); form.classList.remove("dragging"); });
    });
    form.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length > 0 && input) {
        input.files = e.dataTransfer.files;
        form.submit();
      }
    });
  }
  var board = document.querySelector("[data-refresh]");
  if (board) {
    var seconds = parseInt(board.getAttribute("data-refresh"), 10) || 60;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
