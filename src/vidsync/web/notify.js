// Toasts in the page, and browser notifications when the user allowed them.

const TOAST_MS = 8000;

/**
 * Show a toast. kind: "success" | "error" | "info".
 * @returns {HTMLElement}
 */
export function toast(container, { title, body = "", kind = "info" }) {
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  if (kind === "error") item.setAttribute("role", "alert"); // the container is a polite live region
  const text = document.createElement("div");
  text.className = "toast-text";
  const strong = document.createElement("strong");
  strong.textContent = title;
  text.append(strong);
  if (body) {
    const p = document.createElement("p");
    p.textContent = body;
    text.append(p);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon-btn";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(text, close);
  container.append(item);
  setTimeout(() => item.remove(), TOAST_MS);
  return item;
}

export const notificationsSupported = () => "Notification" in globalThis;

export function notificationsAllowed() {
  return notificationsSupported() && Notification.permission === "granted";
}

/** Ask for permission (call from a click). Resolves to the permission. */
export async function askForNotifications() {
  if (!notificationsSupported()) return "denied";
  return Notification.requestPermission();
}

export function notify(title, body) {
  if (!notificationsAllowed()) return null;
  try {
    return new Notification(title, { body, tag: title });
  } catch {
    return null; // some browsers only allow notifications from a service worker
  }
}
