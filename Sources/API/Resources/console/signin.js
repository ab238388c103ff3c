// Sign-in: a user name, a password and, when the user has one, a TOTP code. The server sets
// the session as an HttpOnly cookie: the page never holds the token.
import { api, h, say } from "./dom.js";

export function signInPage(target, { onSignedIn }) {
  const message = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "stack", id: "sign-in", novalidate: true },
    h("label", {}, "User", h("input", { name: "user", id: "user", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true })),
    h("label", {}, "Code from your authenticator (if you use one)",
      h("input", { name: "code", id: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]*", maxlength: "8" })),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { user: String(data.get("user")).trim(), password: String(data.get("password")), console: true };
    const code = String(data.get("code") || "").trim();
    if (code) body.code = code;
    message.textContent = "";
    try {
      await api("/sign-in", { method: "POST", body });
      say("Signed in.");
      await onSignedIn();
    } catch (error) {
      message.textContent = error.status === 401
        ? "The user, password or code is not right."
        : error.status === 429 ? "Too many attempts: wait a few minutes and try again." : error.message;
    }
  });
  target.replaceChildren(h("h1", {}, "Sign in to Tidemark"), form);
  form.querySelector("input").focus();
}
