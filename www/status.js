// A status line: its text and its kind ('info', 'ok', 'error', or the backend's), which the CSS colours.
export function showStatus(element, text, kind = 'info') {
  element.textContent = text;
  element.dataset.kind = kind;
}
