// The console's keyboard shortcuts (listed under "Keyboard shortcuts" in the navigation).
// Everything they do is a link, a button or a field on the page: without this script the
// console works the same, with the mouse or the Tab key.
"use strict";
(function () {
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const click = (selector) => { const el = document.querySelector(selector); if (el) { el.click(); return true; } return false; };
  const focus = (selector) => { const el = document.querySelector(selector); if (el) { el.focus(); return true; } return false; };
  const write = (to) => {
    const choice = document.getElementById(to === "note" ? "to-note" : "to-customer");
    if (!choice) return false;
    choice.checked = true;
    return focus("#message");
  };
  const help = () => {
    const shortcuts = document.getElementById("shortcuts");
    if (!shortcuts) return false;
    shortcuts.open = !shortcuts.open;
    if (shortcuts.open) shortcuts.querySelector("summary").focus();
    return true;
  };
  const nextButton = () => {
    // The queue of the ticket or list in view, else the first queue someone waits in.
    const here = document.body.dataset.queue;
    const buttons = Array.from(document.querySelectorAll("form[action='/desk/next']"));
    const ofHere = buttons.find((form) => form.querySelector("input[name=queue]").value === here);
    const waiting = buttons.find((form) => form.closest("li").querySelector(".count").textContent.trim() !== "0");
    const form = ofHere || waiting || buttons[0];
    if (!form) return false;
    form.querySelector("button").click();
    return true;
  };
  const keys = {
    "n": nextButton,
    "r": () => write("customer"),
    "i": () => write("note"),
    "x": () => focus("#reply-form button[value=resolved]"),
    "/": () => focus("#quick-find"),
    "f": () => focus("#quick-find"),
    "?": help,
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      const shortcuts = document.getElementById("shortcuts");
      if (shortcuts && shortcuts.open) { shortcuts.open = false; return; }
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && document.activeElement.id === "message") {
      event.preventDefault();
      click("#reply-form button[value='']");
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(document.activeElement)) return;
    const action = keys[event.key];
    if (action && action()) event.preventDefault();
  });
})();
