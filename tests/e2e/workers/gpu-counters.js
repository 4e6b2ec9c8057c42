// Counts, in the worker, what crosses to the WebGPU device: buffer maps (read-backs) and
// shader modules / compute pipelines (compilations). Imported before the real worker.
export const counts = { mapAsync: 0, shaderModules: 0, pipelines: 0 };

function count(proto, method, key) {
  const original = proto?.[method];
  if (!original) return;
  proto[method] = function counted(...args) {
    counts[key] += 1;
    return original.apply(this, args);
  };
}

count(self.GPUBuffer?.prototype, 'mapAsync', 'mapAsync');
count(self.GPUDevice?.prototype, 'createShaderModule', 'shaderModules');
count(self.GPUDevice?.prototype, 'createComputePipeline', 'pipelines');
count(self.GPUDevice?.prototype, 'createComputePipelineAsync', 'pipelines');
