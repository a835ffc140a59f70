// What both pages share of session resume (README, "Resume"): what a page
// keeps in sessionStorage to come back to its session after a drop or a
// reload, and the "Reconnecting…" notice while it tries.

/** What the page stored under `key`, or null (nothing, or unreadable). */
export function recall(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

/** Shows or hides the page's "Reconnecting…" notice (#reconnecting). */
export function showReconnecting(on) {
  document.getElementById('reconnecting').hidden = !on;
}
