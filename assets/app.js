// Folio: small enhancements. Every page works without this file, except the
// commentary button, which needs it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Disable a form's button while it submits, so a double click sends once.
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) setTimeout(() => { button.disabled = true; }, 0);
    });
  }

  // Copy buttons: <button data-copy="ID"> copies the value of #ID.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copyFrom(button));
  }
});

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
