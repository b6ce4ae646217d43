() => {
  // Vega draws a chart's legend in one row, however narrow the chart: on a phone its last entries were cut off at
  // the chart's edge. Each time a chart is drawn, its legend's entries are laid out again in rows that fit.
  const ROW = 16, GAP = 12;
  const wrap = (svg) => {
    const legend = svg.querySelector('.role-legend');
    const scope = legend && legend.querySelector('.role-legend-entry .role-scope');
    if (!scope) return;
    const room = svg.getBoundingClientRect().right - legend.getBoundingClientRect().left - 4;
    let x = 0, y = 0;
    for (const entry of [...scope.children].filter((g) => g.tagName === 'g')) {
      const width = entry.getBBox().width;
      if (x > 0 && x + width > room) { x = 0; y += ROW; }
      const place = `translate(${x},${y + 0.25})`;
      if (entry.getAttribute('transform') !== place) entry.setAttribute('transform', place);
      x += width + GAP;
    }
    // The rows added go into the block's bottom padding, its height grown by as much: the chart itself keeps its
    // size (Vega fits the chart to the block's content box, so a taller content box would redraw it taller).
    const block = svg.closest('.block');
    if (!block) return;
    svg.style.overflow = 'visible';
    if (block.dataset.ownHeight === undefined) block.dataset.ownHeight = block.style.height;
    const own = block.dataset.ownHeight, height = y && own ? `calc(${own} + ${y}px)` : own;
    const padding = y && own ? `calc(var(--block-padding) + ${y}px)` : '';
    if (block.style.height !== height) block.style.height = height;
    if (block.style.paddingBottom !== padding) block.style.paddingBottom = padding;
  };
  let queued = false;
  const wrapAll = () => { queued = false; document.querySelectorAll('.vega-embed svg').forEach(wrap); };
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(wrapAll); }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['transform']});
}
