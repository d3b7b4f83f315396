// Folio: small enhancements; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Disable a form's button while it submits, so a double click sends once.
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) setTimeout(() => { button.disabled = true; }, 0);
    });
  }
});
