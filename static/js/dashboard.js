/* Dashboard charts (Apache ECharts, served from static/vendor/echarts/).
 *
 * The numbers come from the page itself: Django renders them with json_script into
 * <script id="dashboard-data" type="application/json">; nothing here builds data from
 * strings. Each chart container also has a data table beside it for screen readers and print.
 *
 * Tooltips are drawn on the canvas ("richText"): ECharts' HTML tooltips are markup with
 * style="…" attributes, which the site's Content-Security-Policy (style-src 'self') refuses.
 * The year select submits its form through data-autosubmit (static/js/app.js).
 */
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var L = data.labels;
  var COLORS = { red: "#d93025", yellow: "#f9ab00", green: "#1e8e3e", bar: "#8b1a1a", line: "#0b57d0" };
  var charts = [];

  function num(values) {
    return values.map(function (v) { return v === null ? null : Number(v); });
  }

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;
    option.tooltip.renderMode = "richText";
    chart.setOption(option);
    charts.push(chart);
  }

  function barAndLine(id, categories, bar, line, rotate) {
    draw(id, {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 56, top: 48, bottom: rotate ? 96 : 32 },
      xAxis: { type: "category", data: categories,
        axisLabel: { rotate: rotate || 0, interval: rotate ? 0 : "auto" } },
      yAxis: [
        { type: "value", name: bar.unit, minInterval: bar.integer ? 1 : 0 },
        { type: "value", name: line.unit, splitLine: { show: false } }
      ],
      series: [
        { name: bar.name, type: "bar", data: bar.values, itemStyle: { color: COLORS.bar } },
        { name: line.name, type: "line", yAxisIndex: 1, data: line.values, connectNulls: false,
          itemStyle: { color: COLORS.line } }
      ]
    });
  }

  barAndLine("chart-signing", data.months,
    { name: L.count, unit: L.unit_count, values: data.signing.count, integer: true },
    { name: L.amount, unit: L.unit_yi, values: num(data.signing.amount) });

  barAndLine("chart-investment", data.months,
    { name: L.increment, unit: L.unit_yi, values: num(data.investment.increment) },
    { name: L.cumulative, unit: L.unit_yi, values: num(data.investment.cumulative) });

  // County staff: their own region's bar is outlined (the table row is marked too).
  function marked(values) {
    if (data.highlight === null) { return values; }
    return values.map(function (v, i) {
      return i === data.highlight
        ? { value: v, itemStyle: { borderColor: "#1d2733", borderWidth: 2, color: "#c0392b" } }
        : v;
    });
  }

  barAndLine("chart-region", data.regions.names,
    { name: L.count, unit: L.unit_count, values: marked(data.regions.count), integer: true },
    { name: L.amount, unit: L.unit_yi, values: num(data.regions.amount) }, 40);

  draw("chart-chain", {
    tooltip: { trigger: "item", formatter: "{b}\n{c} 亿元 ({d}%)" },
    series: [{
      type: "pie", radius: ["30%", "65%"], center: ["50%", "52%"],
      label: { formatter: "{b}\n{c}" },
      data: data.chains.map(function (c) { return { name: c.name, value: Number(c.value) }; })
    }]
  });

  draw("chart-funnel", {
    tooltip: { trigger: "item", formatter: "{b}: {c}" },
    series: [{
      type: "funnel", sort: "none", left: "10%", width: "80%", top: 10, bottom: 10, gap: 2,
      minSize: "8%", label: { position: "inside", formatter: "{b} {c}" },
      data: data.funnel
    }]
  });

  draw("chart-lights", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 36, bottom: 96 },
    xAxis: { type: "category", data: data.regions.names, axisLabel: { rotate: 40, interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: ["red", "yellow", "green"].map(function (key) {
      return { name: L[key], type: "bar", stack: "lights", data: data.regions[key],
        itemStyle: { color: COLORS[key] } };
    })
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
