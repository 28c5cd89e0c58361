"use strict";
document.getElementById("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("status");
  const code = document.getElementById("code").value.trim().toUpperCase();
  try {
    const r = await fetch("/join", {method: "POST", headers: {"Content-Type": "application/json"},
                                    body: JSON.stringify({code: code})});
    const body = await r.json();
    if (r.ok && typeof body.token === "string" && /^[A-Za-z0-9_-]+$/.test(body.token)) {
      location.replace("/j/" + body.token + "/");
    } else {
      status.textContent = body.error || "That did not work.";
    }
  } catch (e) {
    status.textContent = "No connection to the app.";
  }
});
