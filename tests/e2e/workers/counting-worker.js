// The page's worker with its device traffic counted (gpu-counters.js); op `counts` returns them.
import { byKernel, counts } from './gpu-counters.js';
import '../../../www/worker.js';

const handle = self.onmessage;
self.onmessage = (event) => {
  if (event.data?.op === 'counts') self.postMessage({ id: event.data.id, ok: true, value: { ...counts } });
  else if (event.data?.op === 'byKernel') self.postMessage({ id: event.data.id, ok: true, value: { ...byKernel } });
  else handle(event);
};
