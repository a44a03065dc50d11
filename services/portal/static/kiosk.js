// The kiosk's page with a number: back to the start after a while, so that the next
// visitor never sees the code that opens this person's request. Whoever stands there
// may keep it open (WCAG 2.2.1: a time limit the user can turn off).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const notice = document.getElementById("returns");
    const shown = document.getElementById("seconds");
    let left = parseInt(notice.dataset.seconds, 10);
    notice.hidden = false;
    const timer = window.setInterval(function () {
      left -= 1;
      shown.textContent = String(left);
      if (left <= 0) {
        window.clearInterval(timer);
        window.location.assign(document.getElementById("done").href);
      }
    }, 1000);
    document.getElementById("stay").addEventListener("click", function () {
      window.clearInterval(timer);
      notice.hidden = true;
    });
  });
})();
