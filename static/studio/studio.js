// Studio's small shared front-end helpers (Alpine components registered before Alpine starts).
document.addEventListener("alpine:init", () => {
  // Dark/light toggle, remembered per browser.
  Alpine.data("theme", () => ({
    mode: localStorage.getItem("studio-theme") || "light",
    toggle() {
      this.mode = this.mode === "dark" ? "light" : "dark";
      localStorage.setItem("studio-theme", this.mode);
    },
  }));

  // The Projects page: the "New project" modal (the list itself is swapped by HTMX).
  Alpine.data("projectsPage", () => ({
    creating: false,
    openCreate() {
      this.creating = true;
      this.$nextTick(() => this.$refs.name.focus());
    },
    created() {
      this.creating = false;
      this.$refs.createForm.reset();
    },
  }));
});

// A readable message when an HTMX request fails at the network or server level.
document.addEventListener("htmx:responseError", (ev) => {
  const box = document.getElementById("list-error") || document.querySelector("[role=alert]");
  if (box) box.textContent = `The server answered ${ev.detail.xhr.status}: ${ev.detail.xhr.statusText}. Nothing was changed.`;
});
document.addEventListener("htmx:sendError", () => {
  const box = document.getElementById("list-error") || document.querySelector("[role=alert]");
  if (box) box.textContent = "Studio cannot be reached. Is the server running?";
});
