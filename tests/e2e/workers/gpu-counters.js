// Counts, in the worker, what crosses to the WebGPU device: buffer maps (read-backs), shader
// modules and compute pipelines (compilations), compute dispatches, queue submits, bind groups
// and buffers created. Imported before the real worker.
export const counts = { mapAsync: 0, shaderModules: 0, pipelines: 0, dispatches: 0, submits: 0, bindGroups: 0, buffers: 0 };

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
count(self.GPUComputePassEncoder?.prototype, 'dispatchWorkgroups', 'dispatches');
count(self.GPUComputePassEncoder?.prototype, 'dispatchWorkgroupsIndirect', 'dispatches');
count(self.GPUQueue?.prototype, 'submit', 'submits');
count(self.GPUDevice?.prototype, 'createBindGroup', 'bindGroups');
count(self.GPUDevice?.prototype, 'createBuffer', 'buffers');

// Dispatches per kernel (the pipeline's label: cubecl names it after the kernel's entry point).
export const byKernel = {};
const pass = self.GPUComputePassEncoder?.prototype;
if (pass) {
  const setPipeline = pass.setPipeline;
  pass.setPipeline = function kernel(pipeline) {
    this.kernelLabel = pipeline.label;
    return setPipeline.call(this, pipeline);
  };
  const dispatch = pass.dispatchWorkgroups;
  pass.dispatchWorkgroups = function tallied(...args) {
    byKernel[this.kernelLabel] = (byKernel[this.kernelLabel] ?? 0) + 1;
    return dispatch.apply(this, args);
  };
}

