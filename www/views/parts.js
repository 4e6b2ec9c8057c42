// Shared by the self-contained views (4–6): their markup is found by data-part within their
// root, so several copies live on one page (the element) without clashing ids.

/** Run / cancel / save buttons, a progress bar and a status line. */
export const runControls = (label) => `
  <div class="controls">
    <button data-part="run" disabled>${label}</button>
    <button data-part="cancel" disabled>■ Cancel</button>
    <button data-part="save" disabled>Save PNG</button>
  </div>
  <progress data-part="progress" value="0" max="1"></progress>
  <p data-part="status" role="status" aria-live="polite"></p>`;

/** Fills `root` with `template`; returns the lookup of its parts by name. */
export function mount(root, template) {
  root.innerHTML = template;
  return (name) => root.querySelector(`[data-part="${name}"]`);
}
