// Folio: small enhancements. Every page works without this file, except the
// commentary button, which needs it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Disable a form's button while it submits, so a double click sends once.
  for (const form of document.querySelectorAll("form:not([data-checkout-form])")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) setTimeout(() => { button.disabled = true; }, 0);
    });
  }

  // A refused form comes back at the form's address (/portfolio/holdings);
  // show the page's own address, so a reload is a plain GET of the page.
  // (No #fragment: Chrome skips `autofocus` on a URL with one, and the
  // focused first bad field is what brings the form into view.)
  const canonical = document.querySelector("[data-canonical-url]");
  if (canonical && window.history && location.pathname !== canonical.dataset.canonicalUrl) {
    history.replaceState(null, "", canonical.dataset.canonicalUrl);
  }

  const commentary = document.getElementById("get-commentary");
  if (commentary) commentary.addEventListener("click", () => getCommentary(commentary));

  // The verify page: show it when the code's email could not be sent.
  const mailFailed = document.getElementById("mail-failed");
  if (mailFailed && mailFailed.hidden) watchMailDelivery(mailFailed);

  // Upgrade: the server makes the Paddle transaction, Paddle.js opens the
  // checkout on it. Without this script the form posts and the answer is a
  // page whose button (opened at once here) carries the transaction.
  const checkoutSettings = readCheckoutSettings();
  if (checkoutSettings) {
    for (const form of document.querySelectorAll("form[data-checkout-form]")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        openCheckout(form, form.querySelector("button[data-checkout]"), checkoutSettings);
      });
    }
    const ready = document.querySelector("button[data-checkout-open]");
    if (ready && checkoutSettings.transactionId) {
      ready.addEventListener("click", () => openOn(ready, checkoutSettings, checkoutSettings.transactionId));
      openOn(ready, checkoutSettings, checkoutSettings.transactionId);
    }
  }

  // Copy buttons: <button data-copy="ID"> copies the value of #ID.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copyFrom(button));
  }
});

// Asks every 2 s, for a minute (the mail is tried three times), whether
// the sign-in email failed; the page load says so too, without this.
async function watchMailDelivery(banner) {
  for (let i = 0; i < 30 && banner.hidden; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    try {
      const response = await fetch("/api/verify-status", { credentials: "same-origin" });
      const data = await response.json();
      if (data.mail_failed) banner.hidden = false;
    } catch (_) { /* ask again */ }
  }
}

async function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value || source.textContent;
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      copied = true;
    }
  } catch (_) { /* fall back below */ }
  if (!copied) {
    // Older browsers and plain-http origins: select the text and copy it.
    source.focus();
    source.select();
    try { copied = document.execCommand("copy"); } catch (_) { copied = false; }
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
  button.classList.toggle("copied", copied);
  setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 2500);
}

// "Get commentary": POST /api/analyze with the saved portfolio.
async function getCommentary(button) {
  const status = document.getElementById("commentary-status");
  const out = document.getElementById("commentary");
  const upgrade = document.getElementById("commentary-upgrade");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  status.textContent = "Analysing your portfolio…";
  out.hidden = true;
  upgrade.hidden = true;
  try {
    const response = await fetch("/api/analyze", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": button.dataset.csrf || "" },
      body: "{}",
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 200) {
      status.textContent = "";
      showCommentary(out, data);
    } else if (response.status === 402) {
      // The hint below says it all; the status line stays quiet.
      status.textContent = data.reason === "credit_expired" ? "Your complimentary access has ended." : "";
      upgrade.hidden = false;
    } else if (response.status === 401) {
      status.textContent = "Your session has ended. Sign in again to get commentary.";
    } else {
      status.textContent = data.message || "Something went wrong. Please try again.";
    }
  } catch (_) {
    status.textContent = "Could not reach the server. Check your connection and try again.";
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function showCommentary(out, data) {
  out.replaceChildren();
  const text = document.createElement("p");
  text.textContent = data.commentary;
  out.append(text);
  if (data.note) {
    const note = document.createElement("p");
    note.className = "muted small";
    note.textContent = data.note;
    out.append(note);
  }
  const m = data.metrics || {};
  const grid = document.createElement("div");
  grid.className = "metrics";
  const money = (x) => x.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const signed = (x) => (x > 0 ? "+" : "") + money(x);
  const items = [
    ["Total value", money(m.total_value || 0)],
    ["Top weight", ((m.top_weight || 0) * 100).toFixed(1) + "%"],
    ["Effective positions", (m.effective_positions || 0).toFixed(1)],
    ["Unrealised P/L", m.unrealized_pl == null ? "—" : signed(m.unrealized_pl)],
  ];
  for (const [label, value] of items) {
    const stat = document.createElement("div");
    stat.className = "stat";
    const v = document.createElement("div");
    v.className = "stat-value";
    v.textContent = value;
    if (label === "Unrealised P/L" && m.unrealized_pl) v.classList.add(m.unrealized_pl > 0 ? "gain" : "loss");
    const l = document.createElement("div");
    l.className = "stat-label";
    l.textContent = label;
    stat.append(v, l);
    grid.append(stat);
  }
  out.append(grid);
  const provider = document.createElement("p");
  provider.className = "provider";
  provider.textContent = data.provider === "llm" ? "Written by the AI analyst." : "Written by the built-in analyst.";
  out.append(provider);
  out.hidden = false;
}

// ---------------------------------------------------------------- checkout
// The page carries {environment, token, invited} in <script
// type="application/json" id="paddle-checkout">. Paddle.js is loaded from
// Paddle's CDN on the first click (unless the page has it already); then
// POST /billing/checkout makes the transaction (price, discount and account
// are the server's choice, never the browser's) and the overlay opens on
// it. After `checkout.completed` we wait for the webhook to make the
// account paid, polling /api/me, and reload the page when it has.

const ACTIVATION_POLL_MS = 2000;
const ACTIVATION_LIMIT_MS = 60000;
const PADDLE_LOAD_LIMIT_MS = 15000;

function readCheckoutSettings() {
  const el = document.getElementById("paddle-checkout");
  if (!el) return null;
  try { return JSON.parse(el.textContent); } catch (_) { return null; }
}

let paddleReady = null;

function loadPaddle(src) {
  if (window.Paddle) return Promise.resolve(window.Paddle);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    const timer = setTimeout(() => reject(new Error("timeout")), PADDLE_LOAD_LIMIT_MS);
    script.onload = () => {
      clearTimeout(timer);
      if (window.Paddle) resolve(window.Paddle); else reject(new Error("no Paddle"));
    };
    script.onerror = () => { clearTimeout(timer); reject(new Error("load failed")); };
    document.head.append(script);
  });
}

function initPaddle(src, settings, onEvent) {
  if (!paddleReady) {
    paddleReady = loadPaddle(src).then((Paddle) => {
      Paddle.Environment.set(settings.environment);
      Paddle.Initialize({ token: settings.token, eventCallback: onEvent });
      return Paddle;
    });
    // A failed load may be retried by the next click.
    paddleReady.catch(() => { paddleReady = null; });
  }
  return paddleReady;
}

async function openCheckout(form, button, settings) {
  const block = form.closest(".checkout") || document;
  const status = block.querySelector(".checkout-status");
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.disabled = true;
  button.textContent = "Opening checkout…";
  let Paddle;
  try {
    Paddle = await initPaddle(button.dataset.paddleJs, settings, (event) => onCheckoutEvent(event, status));
  } catch (_) {
    button.textContent = "Checkout could not load. Check your connection (or ad blocker) and try again";
    button.disabled = false;
    return;
  }
  try {
    const response = await fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString(),
    });
    const data = response.ok ? await response.json() : null;
    if (data && data.transaction_id) {
      Paddle.Checkout.open({ transactionId: data.transaction_id, customer: { email: button.dataset.email } });
      if (status) status.textContent = "";
    } else if (status) {
      status.textContent = response.status === 429
        ? "One moment: your last click is still being handled. Try again shortly."
        : "The checkout can't be opened right now, try again in a minute.";
    }
  } catch (_) {
    if (status) status.textContent = "Could not reach the server. Check your connection and try again.";
  } finally {
    button.textContent = label;
    button.disabled = false;
  }
}

async function openOn(button, settings, transactionId) {
  const status = (button.closest(".checkout") || document).querySelector(".checkout-status");
  try {
    const Paddle = await initPaddle(button.dataset.paddleJs, settings, (event) => onCheckoutEvent(event, status));
    Paddle.Checkout.open({ transactionId, customer: { email: button.dataset.email } });
  } catch (_) {
    button.textContent = "Checkout could not load. Check your connection (or ad blocker) and try again";
  }
}

let activating = false;

function onCheckoutEvent(event, status) {
  if (!event || event.name !== "checkout.completed" || activating) return;
  activating = true;
  if (status) status.textContent = "Payment received, activating…";
  for (const button of document.querySelectorAll("button[data-checkout], button[data-checkout-open]")) {
    button.disabled = true;
  }
  waitUntilPaid(status);
}

async function waitUntilPaid(status) {
  const deadline = Date.now() + ACTIVATION_LIMIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, ACTIVATION_POLL_MS));
    try {
      const response = await fetch("/api/me", { credentials: "same-origin", cache: "no-store" });
      const me = response.ok ? await response.json() : null;
      if (me && me.tier === "paid") {
        if (status) status.textContent = "You're on the paid plan. Reloading…";
        window.location.reload();
        return;
      }
    } catch (_) { /* keep trying until the deadline */ }
  }
  if (status) {
    status.textContent = "Your payment went through, but activation is taking longer than usual. " +
      "Reload this page in a minute; if it still says free, contact us.";
  }
}
