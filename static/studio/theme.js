// Applies the remembered dark/light theme before the first paint (loaded blocking in <head>,
// so the page never flashes the wrong colours). A static file, not an inline script: the
// Content-Security-Policy allows scripts from Studio's own origin only.
document.documentElement.dataset.theme = localStorage.getItem("studio-theme") || "light";
