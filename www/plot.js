// A small line plot of a curve over t with a marker at the current t (the schedule's β_t, ᾱ_t,
// log SNR; the spiral's training loss over steps). Drawn at the device's pixel ratio so the lines stay sharp.

export function plotCurve(canvas, values, { title, marker, format = (v) => v.toPrecision(3), xLabel = (i) => `t = ${i}` }) {
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 240;
  const cssHeight = canvas.clientHeight || 120;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const context = canvas.getContext('2d');
  context.scale(ratio, ratio);
  const style = getComputedStyle(canvas);
  const ink = style.color || '#222';
  const accent = style.getPropertyValue('--accent').trim() || '#d84315';
  const pad = { left: 8, right: 8, top: 20, bottom: 18 };
  const w = cssWidth - pad.left - pad.right;
  const h = cssHeight - pad.top - pad.bottom;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi === lo) hi = lo + 1;
  const x = (t) => pad.left + (w * t) / Math.max(1, values.length - 1);
  const y = (v) => pad.top + h * (1 - (v - lo) / (hi - lo));

  context.clearRect(0, 0, cssWidth, cssHeight);
  context.font = '12px system-ui, sans-serif';
  context.fillStyle = ink;
  context.strokeStyle = ink;
  context.globalAlpha = 0.35;
  context.strokeRect(pad.left, pad.top, w, h);
  context.globalAlpha = 1;
  context.beginPath();
  values.forEach((v, t) => (t ? context.lineTo(x(t), y(v)) : context.moveTo(x(t), y(v))));
  context.lineWidth = 1.5;
  context.stroke();
  context.fillText(`${title}  (${format(lo)} … ${format(hi)})`, pad.left, 14);
  context.fillText(xLabel(0), pad.left, cssHeight - 4);
  const end = xLabel(values.length - 1);
  context.fillText(end, cssWidth - pad.right - context.measureText(end).width, cssHeight - 4);
  if (marker !== undefined) {
    context.strokeStyle = accent;
    context.fillStyle = accent;
    context.beginPath();
    context.moveTo(x(marker), pad.top);
    context.lineTo(x(marker), pad.top + h);
    context.stroke();
    context.beginPath();
    context.arc(x(marker), y(values[marker]), 3.5, 0, 2 * Math.PI);
    context.fill();
    const label = format(values[marker]);
    const lx = Math.min(x(marker) + 5, cssWidth - pad.right - context.measureText(label).width);
    context.fillText(label, lx, Math.max(pad.top + 12, y(values[marker]) - 6));
  }
}
