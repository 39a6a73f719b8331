// The profile page: copy the API token. The Clipboard API needs a secure context (https or
// localhost); elsewhere, or when the browser refuses, the token is selected instead, with
// document.execCommand("copy") tried on the selection, so Ctrl+C always works.
document.addEventListener("alpine:init", () => {
  Alpine.data("tokenCopy", () => ({
    state: "idle", // idle | copied | selected

    async copy() {
      const text = this.$refs.token.textContent.trim();
      try {
        if (!navigator.clipboard) throw new Error("no Clipboard API");
        await navigator.clipboard.writeText(text);
        this.state = "copied";
      } catch (err) {
        this.selectToken();
        let copied = false;
        try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
        this.state = copied ? "copied" : "selected";
      }
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { this.state = "idle"; }, 2500);
    },

    selectToken() {
      const range = document.createRange();
      range.selectNodeContents(this.$refs.token);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    },

    label() {
      if (this.state === "copied") return "Copied";
      if (this.state === "selected") return "Selected: press Ctrl+C";
      return "Copy";
    },
  }));
});
