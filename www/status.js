// @ts-check
// A status line: its text and its kind ('info', 'ok', 'error', or the backend's), which the CSS
// colours. Kind 'progress' is a running count (step 37 of 100…): shown as 'info', with the
// live region marked busy so a screen reader waits for the outcome instead of reading every
// step; the next status of any other kind ends the busy state and is announced.
export function showStatus(element, text, kind = 'info') {
  const progress = kind === 'progress';
  element.setAttribute('aria-busy', String(progress));
  element.textContent = text;
  element.dataset.kind = progress ? 'info' : kind;
}
