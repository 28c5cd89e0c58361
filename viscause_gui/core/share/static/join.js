"use strict";
// The join page: the short code for the join token. A 429 (too many wrong tries from this
// address, e.g. a classmate guessing behind the same school address) is waited out and the
// same code tried again, a few times.
(function () {
  const status = document.getElementById("status");
  let timer = null;

  async function send(code, triesLeft) {
    clearTimeout(timer);
    try {
      const r = await fetch("/join", {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify({code: code})});
      const body = await r.json();
      if (r.ok && typeof body.token === "string" && /^[A-Za-z0-9_-]+$/.test(body.token)) {
        location.replace("/j/" + body.token + "/");
      } else if (r.status === 429 && triesLeft > 0) {
        const wait = Math.min(Math.max(Number(r.headers.get("Retry-After")) || 5, 1), 60);
        status.textContent = (body.error || "Busy.") + " Trying again in " + wait + " s…";
        timer = setTimeout(() => send(code, triesLeft - 1), 1000 * wait);
      } else {
        status.textContent = body.error || "That did not work.";
      }
    } catch (e) {
      status.textContent = "No connection to the app.";
    }
  }

  document.getElementById("join").addEventListener("submit", (event) => {
    event.preventDefault();
    send(document.getElementById("code").value.trim().toUpperCase(), 5);
  });
})();
