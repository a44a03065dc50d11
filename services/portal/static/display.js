// The waiting room's display: when a number is called (or called again), a chime and
// the number said aloud in the page's language, once someone has turned the sound on
// (browsers let a page make sound only after a click). The board itself refreshes by htmx.
(function () {
  "use strict";
  let last = null;
  let sound = false;

  function current() {
    const now = document.querySelector("#board .now");
    return now && now.dataset.call ? now : null;
  }

  function chime() {
    const context = new AudioContext();
    [660, 880].forEach(function (frequency, n) {
      const start = context.currentTime + n * 0.35;
      const tone = context.createOscillator();
      const volume = context.createGain();
      tone.frequency.value = frequency;
      volume.gain.setValueAtTime(0.25, start);
      volume.gain.exponentialRampToValueAtTime(0.001, start + 0.6);
      tone.connect(volume).connect(context.destination);
      tone.start(start);
      tone.stop(start + 0.6);
    });
  }

  function say(text) {
    if (!("speechSynthesis" in window)) return;
    const line = new SpeechSynthesisUtterance(text);
    line.lang = document.documentElement.lang;
    window.speechSynthesis.speak(line);
  }

  function announce() {
    const now = current();
    if (!now || now.dataset.call === last) return;
    last = now.dataset.call;
    if (!sound) return;
    chime();
    say(now.dataset.say);
    document.body.dataset.announced = last;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const shown = current();
    last = shown ? shown.dataset.call : null;
    // htmx replaces the board; whatever element it fires on, the screen holds the new one.
    new MutationObserver(announce).observe(document.getElementById("screen"), {
      childList: true,
      subtree: true,
    });
    const button = document.getElementById("sound");
    button.hidden = false;
    button.addEventListener("click", function () {
      sound = !sound;
      button.setAttribute("aria-pressed", String(sound));
      button.textContent = sound ? button.dataset.off : button.dataset.on;
      if (sound) chime();
    });
  });
})();
